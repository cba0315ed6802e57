// What tests/test_browser.py asks of JupyterLab's page, one named function per question.
// The Python hands Playwright the whole file wrapped around a call to one of them
// (`page_function("kernelReady")`), so every function here can call the others.
// `panel` is the CSS selector of the notebook panel on show.

// The kernel can take a cell: idle, named (not "No Kernel"), and no dialog in the way.
function kernelReady(panel) {
    const status = document.querySelector(panel + ' .jp-Notebook-ExecutionIndicator');
    const name = document.querySelector(panel + ' .jp-Toolbar-kernelName');
    const kernel = name ? name.getAttribute('aria-label') || '' : '';
    return status !== null && status.dataset.status === 'idle'
        && kernel !== '' && kernel !== 'No Kernel'
        && document.querySelector('.jp-Dialog') === null;
}

// Run All is over: idle, no [*] prompt, every prompt numbered (or an error shown), images loaded.
function runFinished(panel) {
    if (document.querySelector('.jp-Dialog') !== null) return true;  // reported by the test
    const root = document.querySelector(panel);
    if (root === null) return false;
    const status = root.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status;
    const prompts = [...root.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
        .map(p => p.textContent.trim());
    const failed = root.querySelector(
        '[data-mime-type="application/vnd.jupyter.stderr"]') !== null;
    const images = [...root.querySelectorAll('.jp-OutputArea-output img')];
    return status === 'idle'
        && !prompts.some(p => p.includes('*'))
        && (failed || prompts.every(p => /^\[\d+\]:$/.test(p)))
        && images.every(img => img.complete);
}

// A cell's own outputs (not those inside an Output widget): how many widget views the kernel
// sent (from the cell's model), how many rendered as a live view, and what shows instead.
function widgetsOf(cell, model) {
    const outputs = [...cell.querySelectorAll(
        ':scope .jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output')];
    const broken = o => o.querySelector('.jupyter-widgets-error-widget') !== null
        || /Error displaying widget|Loading widget\.\.\./.test(o.innerText);
    const live = o => [...o.children].some(child => child.classList.contains('jupyter-widgets')
        && [...child.classList].some(name => name.startsWith('widget-')));
    const view = 'application/vnd.jupyter.widget-view+json';
    const sent = model && model.type === 'code'
        ? model.outputs.toJSON().filter(o => o.data && view in o.data).length : 0;
    return {
        widgets_sent: sent,
        widgets_live: outputs.filter(o => live(o) && !broken(o)).length,
        widgets_broken: outputs.filter(broken).map(o => o.innerText.trim().slice(0, 300)
            || 'an error widget (its JavaScript model or view failed to load)'),
        widgets_text: outputs.filter(o => o.dataset.mimeType === 'text/plain'
            && /^\w+\(children=|^\w+\(value=/.test(o.innerText.trim()))
            .map(o => o.innerText.trim().slice(0, 120)),
    };
}

// The notebook's cell models, through window.jupyterapp (the server exposes it).
function cellModels(root) {
    const app = window.jupyterapp;
    const panel = app ? [...app.shell.widgets('main')].find(w => w.node === root) : undefined;
    return panel ? panel.content.widgets.map(w => w.model) : null;
}

// Everything the test checks, cell by cell: prompts, stderr, images, widgets; and dialogs.
function pageState(panel) {
    const root = document.querySelector(panel);
    const models = cellModels(root);
    return {
        models: models !== null,
        status: root.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status,
        kernel: root.querySelector('.jp-Toolbar-kernelName')?.getAttribute('aria-label'),
        dialogs: [...document.querySelectorAll('.jp-Dialog')].map(d => d.innerText.trim()),
        cells: [...root.querySelectorAll('.jp-Notebook .jp-Cell')].map((cell, index) => ({
            code: cell.classList.contains('jp-CodeCell'),
            prompt: cell.querySelector('.jp-InputPrompt')?.textContent.trim() ?? '',
            stderr: [...cell.querySelectorAll(
                '[data-mime-type="application/vnd.jupyter.stderr"]')]
                .map(e => e.innerText.slice(0, 800)),
            images: [...cell.querySelectorAll('.jp-OutputArea-output img')]
                .map(img => img.naturalWidth > 0 && img.naturalHeight > 0),
            ...widgetsOf(cell, models ? models[index] : null),
        })),
    };
}

// No widget output still says "Loading widget...".
function widgetsSettled(panel) {
    return ![...document.querySelectorAll(
        panel + ' .jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output')]
        .some(o => o.innerText.includes('Loading widget...'));
}

// What a cell's outputs show, to tell that pressing a button changed something.
function outputSignature([panel, index]) {
    const area = document.querySelectorAll(panel + ' .jp-Notebook .jp-Cell')[index]
        .querySelector('.jp-Cell-outputArea');
    return area.innerText + ' | images ' + area.querySelectorAll('img').length;
}

// Pressing a button was answered: the kernel is idle again, the button enabled again,
// the cell's outputs changed and their images loaded.
function buttonAnswered([panel, index, number, before]) {
    const root = document.querySelector(panel);
    const area = root.querySelectorAll('.jp-Notebook .jp-Cell')[index]
        .querySelector('.jp-Cell-outputArea');
    const button = area.querySelectorAll('button.widget-button')[number];
    const status = root.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status;
    const now = area.innerText + ' | images ' + area.querySelectorAll('img').length;
    return status === 'idle' && button !== undefined && !button.disabled && now !== before
        && [...area.querySelectorAll('img')].every(img => img.complete);
}

// The file browser's side panel is closed.
function sidebarClosed() {
    return document.querySelector('#jp-left-stack').classList.contains('lm-mod-hidden');
}

// Scroll `scroller` to the top; how many pixels of it do not fit in the window.
function scrollToTop(scroller) {
    scroller.scrollTop = 0;
    return scroller.scrollHeight - scroller.clientHeight;
}

// The window has grown to `height`.
function windowHeightIs(height) {
    return window.innerHeight === height;
}

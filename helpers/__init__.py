"""Plumbing for the Redis Pub/Sub and JSON-RPC course notebooks: the map of the package.

The lesson's own code stays in the notebooks; what is here is what a cell leans on.
One line per module, grouped by the job it does (a test keeps this list whole).

Redis for the kernel
    redis_server    which Redis a kernel uses: REDIS_URL, or a private embedded one
    redis_binary    finding and checking a redis-server or valkey-server binary
    embedded_redis  the private server this process starts, and reaps at exit
    server_process  one server process: start, wait until it answers, stop, reap
    cluster/        a real Redis Cluster on this machine, for notebook 07

Running things in the background
    background      the registry a re-run cell replaces through, and the Worker base class
    http_service    the bounded, quiet HTTP server under every service of the course
    waiting         waiting for a condition, with a message that says what did not happen

The lessons
    pubsub          subscriptions that re-run cleanly, and a collecting subscriber
    services/       the original lab's publisher (8000) and subscriber (8001)
    rpc/            JSON-RPC 2.0: dispatcher, HTTP server and client, Redis worker, methods
    experiments/    latency and message-loss experiments of notebooks 05 and 06
    plots           figures drawn from the experiments' plain data
    controls        display widgets: a progress bar and a Run panel
    quiz            the lesson notebooks' self-check questions (their texts: quiz.toml)

Assignments and grading
    assignments     source notebooks with solutions, and the student copies made from them
    checks/         check("q1") in the assignment notebooks: the framework and each question
    bridge          the kernel's end of the grader's bridge: JSON in, JSON out
    remote          the learner's kernel as the grader reaches it, through the bridge
    judge           decides a check cell in the grader's process, never in the kernel
    sandbox         the OS sandbox (bubblewrap) around each submission's kernel
    grading/        batch grading: submissions in, gradebook and feedback out

The Vietnamese edition
    language        the language a learner reads the pack's messages in, and _()
    translation     the Vietnamese notebooks, generated through gettext catalogs
"""

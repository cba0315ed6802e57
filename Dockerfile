# The lab image used by docker-compose.yml: the pack installed, JupyterLab on 8888.
FROM python:3.11-slim
WORKDIR /course
COPY pyproject.toml README.md ./
COPY helpers ./helpers
RUN pip install --no-cache-dir -e .
COPY notebooks ./notebooks
EXPOSE 8888 8000 8001
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser", "--allow-root", \
     "--ServerApp.root_dir=/course/notebooks"]

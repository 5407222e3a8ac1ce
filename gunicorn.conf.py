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

# Sync workers: one request at a time each. The app's requests are short (a few ms of Python and
# database), nginx buffers slow clients' requests and answers, and no request waits on another
# service for long (Redis fails fast), so threads or green threads would add risk for no gain.
worker_class = "sync"
# Two per core this process may run on, plus one (gunicorn's advice: while one waits on the
# database, another computes), unless WEB_CONCURRENCY says otherwise (a machine shared with the
# workers and the database, or running several instances).
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * len(os.sched_getaffinity(0)) + 1)
# A worker silent this long (a request stuck) is killed and replaced; nginx gives up on an
# instance at the same 30 s (proxy_read_timeout).
timeout = 30
# On SIGTERM (stop) or SIGHUP (reload), workers finish the requests they hold within this long
# before they are killed; new workers take the socket meanwhile on a reload.
graceful_timeout = 30
# Sync workers close the connection after each answer; this applies only to other worker classes.
keepalive = 5


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

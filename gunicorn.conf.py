"""gunicorn reads this file from the working directory: what every web instance shares.

With PROMETHEUS_MULTIPROC_DIR set (one directory per instance), each worker process writes its
metrics there and a scrape of any worker adds up all of them: the directory starts empty, and a
worker that exits is marked dead so its gauges drop out."""

import os
import shutil
from pathlib import Path


def on_starting(server):
    if directory := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

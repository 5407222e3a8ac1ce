"""The floor of the HTTP benchmark: Flask's hello-world, served by the same gunicorn as the app."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hello, World!"

"""BROKEN: the view sends the form's strings. Compare with app.py."""

from flask import Flask, request

from tasks import add

app = Flask(__name__)


@app.post("/add")
def enqueue_add() -> tuple[dict[str, str], int]:
    # Form values are strings: this sends add("1", "2").
    message = add.send(request.form["x"], request.form["y"])
    return {"message_id": message.message_id}, 202

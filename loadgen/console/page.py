"""The console page: one static HTML file whose script (static/console.js) polls the API."""
from flask import Blueprint, Response, current_app, send_from_directory

bp = Blueprint("page", __name__)


@bp.get("/")
def console() -> Response:
    """The demo console."""
    return send_from_directory(current_app.static_folder, "console.html")

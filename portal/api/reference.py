"""The API's description: the OpenAPI document and its reference page, open to anyone (they
describe the API, they hold no data), outside the API blueprint's log-in check."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from .openapi import document

bp = Blueprint("api_reference", __name__, url_prefix="/api/v1")

METHODS = ("get", "post", "put", "patch", "delete")


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(document())


@bp.get("/reference")
def reference():
    spec = document()
    operations = [(path, method, spec["paths"][path][method])
                  for path in spec["paths"] for method in METHODS
                  if method in spec["paths"][path]]
    return render_template("api/reference.html", spec=spec, operations=operations)

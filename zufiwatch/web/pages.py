"""The pages the working group reads (to be built)."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("pages", __name__)

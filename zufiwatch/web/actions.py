"""Acknowledge, record and withdraw expected changes (to be built)."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("actions", __name__)

"""zufiwatch: history, change alerts and an overview for a city's ZuFi entries."""

__version__ = "0.1.0"

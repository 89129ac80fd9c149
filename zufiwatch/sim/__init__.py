"""Simulated sources: a PVOG Suchdienst over a Jena directory that changes day by day."""

from .dataset import JENA_ARS, Directory, build_directory
from .scenario import ChurnScenario, ExpectedEdit, Scenario
from .server import SimulatedPVOG

__all__ = [
    "JENA_ARS",
    "ChurnScenario",
    "Directory",
    "ExpectedEdit",
    "Scenario",
    "SimulatedPVOG",
    "build_directory",
]

"""Demos: library functions that run a whole worked example and return what they found."""

from torchlinear.demos.linreg import DemoRow, LinregDemoResult, run_linreg_demo

__all__ = ["DemoRow", "LinregDemoResult", "run_linreg_demo"]

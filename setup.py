"""Build hook: ship the top-level resources/ folder inside the wheel as annotary/resources."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithResources(build_py):
    def run(self):
        super().run()
        src = Path(__file__).parent / "resources"
        dest = Path(self.build_lib) / "annotary" / "resources"
        if src.is_dir():
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(src, dest)


setup(cmdclass={"build_py": BuildWithResources})

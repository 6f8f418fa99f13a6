"""Install with ``pip install -r requirements.txt && pip install -e .`` (see README)."""
from pathlib import Path

from setuptools import find_packages, setup

version = {}
exec((Path(__file__).parent / 'videoswin' / 'version.py').read_text(), version)

setup(
    name='videoswin',
    version=version['__version__'],
    description='Config-driven training framework for the Video Swin Transformer',
    long_description=(Path(__file__).parent / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['videoswin', 'videoswin.*']),
    python_requires='>=3.9',
    # Ranges only: the exact, tested pins live in requirements.txt. torch is left to the
    # user so that a GPU build already installed is never replaced by pip.
    install_requires=[
        'mmengine>=0.10,<1.0',
        'mmcv-lite>=2.0.0rc4,<2.1',
        'mmaction2==1.1.0',
        'decord>=0.6',
        'numpy',
    ],
)

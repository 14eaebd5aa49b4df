"""The parts :class:`~artiflow.ArtifactVersion` is made of, one concern per module.

``core`` (the identity read off the catalog record), ``labels`` (edit, save, reload, delete),
``lineage`` (runs, checks, quarantines), ``reading`` (entries, ``open``, ``download``,
``checkout``, ``verify``; ``spool`` holds the verified readers ``open`` hands out) and
``compat`` (the W&B and Comet spellings). Import the class from :mod:`artiflow.version` (or
:mod:`artiflow`); these modules are its implementation.
"""

"""The parts :class:`~artiflow.Artifact` (a draft) is made of, one concern per module.

``sources`` (what an entry path holds: a local file, a reference, a carried entry; the small
checks), ``core`` (the state every part shares), ``adding`` (``add_file``, ``add_dir``,
``add_reference``, ``new_file``, ``remove`` and Comet's ``add``/``add_remote``) and ``compat``
(W&B's spellings). Import the class from :mod:`artiflow.artifact` (or :mod:`artiflow`).
"""

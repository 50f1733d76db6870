"""Plain TensorFlow/NumPy machine learning for respiratory sounds; imports no Django.

`features` (the one log-mel front end), `model` (the CNN, artifacts, `LoadedModel`), `train` and
`metrics` (fitting and evaluation), `synth` (SYNTHETIC labelled sounds) and `datasets` (COUGHVID
and Coswara layouts). `synth`, `metrics` and `datasets` need NumPy only.
"""

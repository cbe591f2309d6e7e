"""Face detection (BlazeFace short-range) and mask classification on the CPU.

Inference needs only OpenCV and NumPy; training (``drivers.mask.train``) needs
torch from the ``train`` extra.
"""

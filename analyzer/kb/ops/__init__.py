"""One module per ONNX op (or tight op family); each defines `RULES: list[OpRule]`.

Modules here are discovered automatically; nothing else needs editing to add one.
"""

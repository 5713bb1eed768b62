"""Plugin declarations, one module per plugin (auto-discovered by ``trtforge.plugins.catalog``).

Modules here import only the standard library and ``trtforge.plugins.spec`` at module level:
the build's code generator imports them where NumPy and onnx are not installed.
"""

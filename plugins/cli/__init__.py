"""Command-line tools of trtforge.plugins: ``trt-build`` and ``trt-plugin``."""

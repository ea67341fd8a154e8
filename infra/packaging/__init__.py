"""Check the built artifacts the way ``sam local invoke`` would, without a container engine.

``sam build`` writes each function's code and the ``AuthLayer`` into a build directory. These
modules import and invoke those *built* handlers in fresh ``python3.13`` processes whose
``sys.path`` is exactly what Lambda gives them, and nothing from the repository:

1. the built function directory (Lambda's ``/var/task``),
2. the built layer's ``python/`` (``/opt/python``),
3. a ``pip install --target`` of boto3 for python3.13, standing in for the runtime's own
   boto3 (``/var/runtime``), cached under ``.aws-sam/runtime-boto3``.

The deploy artifact is built for arm64; a machine of another architecture cannot load its
compiled extensions, so ``sam_build.build(..., host_arch=True)`` builds a second copy whose
layer wheels match the host (``LAYER_PLATFORM``, see ``shared/Makefile``). Everything else is
identical.

- ``toolchain``: where the SAM CLI and python3.13 are, and the host's wheel platform;
- ``sam_build``: ``sam build`` and what it built (functions, handlers, settings);
- ``layer``: exact facts about a built layer (size, contents, extension architectures);
- ``runtime``: what the Lambda runtime gives a function's process (path, environment, boto3);
- ``invoke`` and ``handler_probe``: one invocation of a built handler in a fresh process;
- ``backends``: moto's server and the Google emulator for the invoked handlers;
- ``cold_init``: cold-import timings, for the benchmark.

Used by ``tests/packaging`` (exact facts: statuses, bodies, sizes, architectures) and by the
benchmark (cold-init ratios; timings are never asserted in tests). ``python -m infra.packaging``
builds and prints the layer report.
"""

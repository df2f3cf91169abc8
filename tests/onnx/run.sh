#!/bin/sh
# tests/onnx/test_export.py MODE VKCLR under the first Python that has MODE's packages (the
# python3 on PATH may be another installation than Debian's /usr/bin/python3); with none, the
# script itself says what is missing and exits 77 (meson's "skipped").
set -u
mode=${1:?usage: run.sh onnx|torch VKCLR}
HERE=$(cd "$(dirname "$0")" && pwd)
case $mode in
    onnx) modules="onnx, cv2, numpy" ;;
    torch) modules="torch, numpy" ;;
    *) echo "run.sh: unknown mode $mode" >&2; exit 2 ;;
esac
unset VKCLR_VALIDATION # the runs are tiny trainings and exports; the Vulkan tests validate the kernels
for p in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c "import $modules" >/dev/null 2>&1; then
        exec "$p" "$HERE/test_export.py" "$@"
    fi
done
exec python3 "$HERE/test_export.py" "$@"

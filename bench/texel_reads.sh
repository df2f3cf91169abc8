#!/bin/sh
# How fast the Vulkan driver at hand reads memory in a compute shader, per way of reading it
# (bench/texel_reads/reads.comp: uniform texel buffer, storage texel buffer, storage buffer,
# uniform buffer), in a streaming loop and in a GEMM-like register tile like vkclr's kernels',
# against pure arithmetic. On lavapipe these figures chose how vkclr reads texel buffers
# (shaders/texel.glsl): run it on each driver, e.g.
#   bench/texel_reads.sh                                            # this machine's driver
#   tools/distro/run.sh trixie bench/texel_reads.sh                 # Mesa 26.1 (Debian 13)
#   tools/distro/run.sh trixie 'VK_DRIVER_FILES=/opt/mesa-trixie/lvp_icd.json bench/texel_reads.sh'
# Needs gcc, glslangValidator and the Vulkan headers and loader (vkclr's build dependencies).
set -eu
cd "$(dirname "$0")/texel_reads"
out=${TMPDIR:-/tmp}/texel-reads
mkdir -p "$out"
gcc -O2 -o "$out/probe" probe.c -lvulkan
names="1:uniform-texel 2:storage-texel 3:storage-buffer 4:uniform-buffer"
run() { # label, glslang defines, workgroups, local size
    glslangValidator -V --target-env vulkan1.1 --quiet $2 -o "$out/k.spv" reads.comp
    printf '%-52s %s\n' "$1" "$("$out/probe" "$out/k.spv" "$3" "$4" 5)"
}
run "alu: 8 vec4 multiply-add chains, no reads" "-DKERNEL_ALU" 1024 64
for a in $names; do
    run "stream: 1024 reads per invocation, ${a#*:}" "-DKERNEL_STREAM -DREAD_A=${a%%:*}" 1024 64
done
for a in $names; do
    for b in $names; do
        [ "${a%%:*}" = 4 ] && continue # A rows differ per lane: beyond one uniform buffer's 64 KiB
        run "gemm tile: A ${a#*:}, B ${b#*:}" "-DKERNEL_GEMM -DREAD_A=${a%%:*} -DREAD_B=${b%%:*}" 4096 16
    done
done

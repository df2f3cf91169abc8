// What the register-tiled convolutions (conv2d_{fwd,dgrad,wgrad}_reg.comp) share: their
// extensions, the workgroup size and the shape of the convolution (specialization constants 0
// and 3-5), the subgroup size their lanes share fetched data over, and the lane numbering that
// sharing relies on (as conv2d_smem.glsl is the shared part of the smem family).
//
// The including shader defines SG_ID, the constant id of SG, before including this file.
// SG > 1: the device's subgroup size (the host makes the workgroup whole subgroups); the lanes
// of a subgroup fetch different parts of what they all need and exchange them with
// subgroupShuffle (a constant lane: a register broadcast on CPU drivers). 0: every lane
// fetches for itself.
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_KHR_shader_subgroup_basic : require
#include "precision.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 3) const uint KS = 3;
layout(constant_id = 4) const uint STRIDE = 1;
layout(constant_id = 5) const uint PAD = 1;
layout(constant_id = SG_ID) const uint SG = 0;

const uint KK = KS * KS;

// The invocation's place in the grid. With SG it is counted from the subgroup builtins, so
// the lanes that share data through subgroupShuffle are exactly the consecutive places a
// subgroup covers, however the device lays subgroups out in the workgroup (the host makes the
// workgroup whole subgroups of the device's reported size, which SPIR-V 1.3 shaders run with).
uint lane_id()
{
    if (SG > 1u) return (gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID) * SG + gl_SubgroupInvocationID;
    return gl_GlobalInvocationID.x;
}

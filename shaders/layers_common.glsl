// Helpers shared by the layer shaders.

// Invocation number of a 1-D grid that the host may have folded into x and y
// (vkc_layers_dispatch_1d: maxComputeWorkGroupCount.x is only guaranteed to be 65535).
uint linear_invocation()
{
    return (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
}

// One float from an r32f uniform texel buffer: on lavapipe a texel fetch costs about a tenth
// of a storage-buffer load (shared/notes/lavapipe.md); on GPUs it goes through the texture cache.
#define LOAD(buf, i) texel(buf, int(i)).r

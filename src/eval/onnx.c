/* ONNX export (vkclr/onnx.h): the model's graph (vkc_model_graph) walked op by op into ONNX
 * nodes, batch norms folded into the convolution or linear before them, written as protobuf.
 *
 * The protobuf wire format, as much of it as onnx.proto needs here: every field is a tag
 * (field number << 3 | wire type) followed by a varint (wire type 0: integers, enums), four
 * little-endian bytes (5: float) or a varint length and that many bytes (2: strings, bytes,
 * sub-messages, packed arrays). A sub-message is encoded into its own buffer first, then
 * appended with its length. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vkclr/checkpoint.h"
#include "vkclr/embed.h"
#include "vkclr/fileio.h"
#include "vkclr/onnx.h"

/* ---------------------------------------------------------------- protobuf */

typedef struct {
    uint8_t *p;
    size_t n, cap;
    bool failed; /* out of memory: later writes do nothing, pb_check reports it */
} Pb;

enum { WIRE_VARINT = 0, WIRE_LEN = 2, WIRE_FIXED32 = 5 };

static void pb_raw(Pb *b, const void *data, size_t n)
{
    if (b->failed) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void pb_varint(Pb *b, uint64_t v)
{
    uint8_t out[10];
    int n = 0;
    do {
        out[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) out[n] |= 0x80;
        n++;
    } while (v);
    pb_raw(b, out, (size_t)n);
}

static void pb_tag(Pb *b, int field, int wire) { pb_varint(b, (uint64_t)field << 3 | (uint64_t)wire); }

static void pb_int(Pb *b, int field, int64_t v)
{
    pb_tag(b, field, WIRE_VARINT);
    pb_varint(b, (uint64_t)v); /* negative values as ten bytes, as protobuf does */
}

static void pb_bytes(Pb *b, int field, const void *data, size_t n)
{
    pb_tag(b, field, WIRE_LEN);
    pb_varint(b, n);
    pb_raw(b, data, n);
}

static void pb_string(Pb *b, int field, const char *s) { pb_bytes(b, field, s, strlen(s)); }

/* Append sub-message `sub` as field `field` of b, and free it. */
static void pb_message(Pb *b, int field, Pb *sub)
{
    b->failed |= sub->failed;
    pb_bytes(b, field, sub->p, sub->n);
    free(sub->p);
    memset(sub, 0, sizeof *sub);
}

/* onnx.proto's field numbers */
enum { MODEL_IR_VERSION = 1, MODEL_PRODUCER_NAME = 2, MODEL_PRODUCER_VERSION = 3, MODEL_DOC = 6, MODEL_GRAPH = 7,
       MODEL_OPSET = 8, MODEL_METADATA = 14 };
enum { OPSET_DOMAIN = 1, OPSET_VERSION = 2 };
enum { ENTRY_KEY = 1, ENTRY_VALUE = 2 };
enum { GRAPH_NODE = 1, GRAPH_NAME = 2, GRAPH_INITIALIZER = 5, GRAPH_INPUT = 11, GRAPH_OUTPUT = 12 };
enum { NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP_TYPE = 4, NODE_ATTRIBUTE = 5 };
enum { ATTR_NAME = 1, ATTR_I = 3, ATTR_INTS = 8, ATTR_TYPE = 20 };
enum { ATTR_TYPE_INT = 2, ATTR_TYPE_INTS = 7 };
enum { TENSOR_DIMS = 1, TENSOR_DATA_TYPE = 2, TENSOR_NAME = 8, TENSOR_RAW_DATA = 9 };
enum { TENSOR_FLOAT = 1 };
enum { VALUE_NAME = 1, VALUE_TYPE = 2 };
enum { TYPE_TENSOR = 1, TYPE_TENSOR_ELEM = 1, TYPE_TENSOR_SHAPE = 2, SHAPE_DIM = 1, DIM_VALUE = 1, DIM_PARAM = 2 };

/* ---------------------------------------------------------------- ONNX pieces */

typedef struct {
    Pb graph;
    int nodes;
    char (*names)[128]; /* ONNX name of each model value */
} Writer;

static void attr_int(Pb *node, const char *name, int64_t v)
{
    Pb a = {0};
    pb_string(&a, ATTR_NAME, name);
    pb_int(&a, ATTR_TYPE, ATTR_TYPE_INT);
    pb_int(&a, ATTR_I, v);
    pb_message(node, NODE_ATTRIBUTE, &a);
}

static void attr_ints(Pb *node, const char *name, const int64_t *v, int n)
{
    Pb a = {0};
    pb_string(&a, ATTR_NAME, name);
    pb_int(&a, ATTR_TYPE, ATTR_TYPE_INTS);
    for (int i = 0; i < n; i++) pb_int(&a, ATTR_INTS, v[i]);
    pb_message(node, NODE_ATTRIBUTE, &a);
}

/* A node of op_type reading inputs[0..nin) into `output` (also its name); attributes already
 * in *attrs (may be NULL). */
static void add_node(Writer *w, const char *op_type, const char *const *inputs, int nin, const char *output, Pb *attrs)
{
    Pb node = {0};
    for (int i = 0; i < nin; i++) pb_string(&node, NODE_INPUT, inputs[i]);
    pb_string(&node, NODE_OUTPUT, output);
    pb_string(&node, NODE_NAME, output);
    pb_string(&node, NODE_OP_TYPE, op_type);
    if (attrs) {
        pb_raw(&node, attrs->p, attrs->n);
        node.failed |= attrs->failed;
        free(attrs->p);
        memset(attrs, 0, sizeof *attrs);
    }
    pb_message(&w->graph, GRAPH_NODE, &node);
    w->nodes++;
}

static void add_initializer(Writer *w, const char *name, const int64_t *dims, int ndim, const float *data)
{
    Pb t = {0};
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        pb_int(&t, TENSOR_DIMS, dims[i]);
        count *= (size_t)dims[i];
    }
    pb_int(&t, TENSOR_DATA_TYPE, TENSOR_FLOAT);
    pb_string(&t, TENSOR_NAME, name);
    /* raw_data: little-endian float32 whatever the host's byte order */
    pb_tag(&t, TENSOR_RAW_DATA, WIRE_LEN);
    pb_varint(&t, count * 4);
    for (size_t i = 0; i < count; i++) {
        uint32_t u;
        memcpy(&u, &data[i], 4);
        uint8_t le[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
        pb_raw(&t, le, 4);
    }
    pb_message(&w->graph, GRAPH_INITIALIZER, &t);
}

/* A graph input or output: float32 tensor of dims (0: the dynamic "batch"). */
static void add_value_info(Writer *w, int field, const char *name, const int64_t *dims, int ndim)
{
    Pb shape = {0}, tensor = {0}, type = {0}, value = {0};
    for (int i = 0; i < ndim; i++) {
        Pb dim = {0};
        if (dims[i]) pb_int(&dim, DIM_VALUE, dims[i]);
        else pb_string(&dim, DIM_PARAM, "batch");
        pb_message(&shape, SHAPE_DIM, &dim);
    }
    pb_int(&tensor, TYPE_TENSOR_ELEM, TENSOR_FLOAT);
    pb_message(&tensor, TYPE_TENSOR_SHAPE, &shape);
    pb_message(&type, TYPE_TENSOR, &tensor);
    pb_string(&value, VALUE_NAME, name);
    pb_message(&value, VALUE_TYPE, &type);
    pb_message(&w->graph, field, &value);
}

static void add_metadata(Pb *model, const char *key, const char *value)
{
    Pb e = {0};
    pb_string(&e, ENTRY_KEY, key);
    pb_string(&e, ENTRY_VALUE, value);
    pb_message(model, MODEL_METADATA, &e);
}

/* ---------------------------------------------------------------- the graph */

typedef struct {
    const VkcModel *m;
    const float *params, *buffers;
    int end; /* ops [0, end) are exported */
} Source;

static const float *tensor_data(const Source *s, int t)
{
    const VkcNamedTensor *nt = &s->m->tensors[t];
    return (nt->role == VKC_T_PARAM ? s->params : s->buffers) + nt->offset;
}

/* The name of a named tensor without its last component ("encoder.block1.conv.weight" ->
 * "encoder.block1.conv"): what its layer is called. */
static void layer_name(const VkcModel *m, int t, char *out, size_t size)
{
    snprintf(out, size, "%s", m->tensors[t].name);
    char *dot = strrchr(out, '.');
    if (dot) *dot = '\0';
}

/* How many exported ops read value v. */
static int readers(const Source *s, int v)
{
    int n = 0;
    for (int i = 0; i < s->end; i++) {
        VkcOpInfo o = vkc_model_op(s->m, i);
        n += (o.in == v) + (o.in2 == v);
    }
    return n;
}

/* Conv or linear op i with the batch norm `bn` after it folded in: weight W' = W s and bias
 * b' = beta - mean s per output channel, s = gamma / sqrt(var + eps) (in double). Emits the
 * Conv or Gemm node, named after the layer, into `out`. */
static int emit_folded(Writer *w, const Source *s, const VkcOpInfo *op, const VkcOpInfo *bn, const char *out)
{
    const VkcNamedTensor *wt = &s->m->tensors[op->weight];
    uint32_t cout = wt->shape[0], per = wt->count / cout;
    float *weight = malloc((size_t)wt->count * sizeof(float)), *bias = malloc((size_t)cout * sizeof(float));
    if (!weight || !bias) {
        free(weight);
        free(bias);
        return vkc_fail("out of host memory folding %s", wt->name);
    }
    const float *W = tensor_data(s, op->weight), *gamma = tensor_data(s, bn->gamma), *beta = tensor_data(s, bn->beta);
    const float *mean = tensor_data(s, bn->mean), *var = tensor_data(s, bn->var);
    for (uint32_t o = 0; o < cout; o++) {
        double scale = (double)gamma[o] / sqrt((double)var[o] + (double)bn->eps);
        for (size_t k = (size_t)o * per; k < (size_t)(o + 1) * per; k++) weight[k] = (float)((double)W[k] * scale);
        bias[o] = (float)((double)beta[o] - (double)mean[o] * scale);
    }
    char layer[128], wname[160], bname[160];
    layer_name(s->m, op->weight, layer, sizeof layer);
    snprintf(wname, sizeof wname, "%s.weight", layer);
    snprintf(bname, sizeof bname, "%s.bias", layer);
    int64_t dims[4];
    for (int d = 0; d < wt->ndim; d++) dims[d] = wt->shape[d];
    add_initializer(w, wname, dims, wt->ndim, weight);
    add_initializer(w, bname, (int64_t[1]){cout}, 1, bias);
    free(weight);
    free(bias);
    const char *inputs[3] = {w->names[op->in], wname, bname};
    Pb attrs = {0};
    if (op->kind == VKC_OP_CONV) {
        int64_t k = op->kernel, st = op->stride, p = op->pad;
        attr_ints(&attrs, "kernel_shape", (int64_t[2]){k, k}, 2);
        attr_ints(&attrs, "strides", (int64_t[2]){st, st}, 2);
        attr_ints(&attrs, "pads", (int64_t[4]){p, p, p, p}, 4);
        add_node(w, "Conv", inputs, 3, out, &attrs);
    } else {
        attr_int(&attrs, "transB", 1); /* y = x W^T + b, W stored [out][in] as PyTorch's */
        add_node(w, "Gemm", inputs, 3, out, &attrs);
    }
    return VKC_OK;
}

/* The global average pool: N x C x H x W -> N x C x 1 x 1 -> N x C. */
static void emit_global_pool(Writer *w, const char *in, const char *prefix, const char *out)
{
    char pooled[160];
    snprintf(pooled, sizeof pooled, "%s.avgpool", prefix);
    add_node(w, "GlobalAveragePool", &in, 1, pooled, NULL);
    Pb attrs = {0};
    attr_int(&attrs, "axis", 1);
    const char *p = pooled;
    add_node(w, "Flatten", &p, 1, out, &attrs);
}

static void emit_maxpool(Writer *w, const char *in, const VkcOpInfo *op, const char *out)
{
    int64_t k = op->kernel, st = op->stride, p = op->pad;
    Pb attrs = {0};
    attr_ints(&attrs, "kernel_shape", (int64_t[2]){k, k}, 2);
    attr_ints(&attrs, "strides", (int64_t[2]){st, st}, 2);
    attr_ints(&attrs, "pads", (int64_t[4]){p, p, p, p}, 4);
    add_node(w, "MaxPool", &in, 1, out, &attrs);
}

/* Every exported op as nodes: a conv or linear with the batch norm that reads it (one Conv or
 * Gemm, then the norm's ReLU and pool), ReLU, max-pool, global pool, residual sums. */
static int emit_graph(Writer *w, const Source *s)
{
    char name[160];
    for (int i = 0; i < s->end; i++) {
        VkcOpInfo op = vkc_model_op(s->m, i);
        const char *in = w->names[op.in];
        char *out = w->names[op.out];
        if (!out[0]) snprintf(out, sizeof w->names[0], "v%d", op.out);
        switch (op.kind) {
        case VKC_OP_CAST: /* 16-bit activations: the exported model is float32 throughout */
            memcpy(out, in, sizeof w->names[0]); /* another value of the same name */
            break;
        case VKC_OP_CONV:
        case VKC_OP_LINEAR: {
            VkcOpInfo bn = i + 1 < s->end ? vkc_model_op(s->m, i + 1) : (VkcOpInfo){.kind = VKC_OP_KINDS};
            if (bn.kind != VKC_OP_BN || bn.in != op.out || readers(s, op.out) != 1)
                return vkc_fail("op %d: a %s without the batch norm after it (not a graph vkclr builds)", i,
                                op.kind == VKC_OP_CONV ? "convolution" : "linear layer");
            /* the norm's output, after its ReLU and pool */
            char *final = w->names[bn.out], prefix[128];
            if (!final[0]) snprintf(final, sizeof w->names[0], "v%d", bn.out);
            layer_name(s->m, bn.gamma, prefix, sizeof prefix);
            bool relu = bn.relu, pool = bn.pool != VKC_BN_POOL_NONE;
            if (relu || pool) layer_name(s->m, op.weight, name, sizeof name);
            else snprintf(name, sizeof name, "%s", final);
            if (emit_folded(w, s, &op, &bn, name)) return VKC_ERR;
            if (relu) {
                char r[160];
                snprintf(r, sizeof r, "%s.relu", prefix);
                const char *x = name;
                add_node(w, "Relu", &x, 1, pool ? r : final, NULL);
                snprintf(name, sizeof name, "%s", r);
            }
            if (bn.pool == VKC_BN_POOL_MAX2X2)
                emit_maxpool(w, name, &(VkcOpInfo){.kernel = 2, .stride = 2}, final);
            else if (bn.pool == VKC_BN_POOL_AVG)
                emit_global_pool(w, name, prefix, final);
            i++; /* the batch norm is done */
            break;
        }
        case VKC_OP_BN:
            return vkc_fail("op %d: a batch norm after neither a convolution nor a linear layer", i);
        case VKC_OP_RELU:
            add_node(w, "Relu", &in, 1, out, NULL);
            break;
        case VKC_OP_MAXPOOL:
            emit_maxpool(w, in, &op, out);
            break;
        case VKC_OP_AVGPOOL:
            snprintf(name, sizeof name, "pool%d", i);
            emit_global_pool(w, in, name, out);
            break;
        case VKC_OP_ADD: {
            const char *two[2] = {in, w->names[op.in2]};
            add_node(w, "Add", two, 2, out, NULL);
            break;
        }
        default:
            return vkc_fail("op %d: kind %d has no ONNX form", i, (int)op.kind);
        }
    }
    return VKC_OK;
}

/* ---------------------------------------------------------------- the model */

/* "a,b,c": each float in the fewest digits that read back as the same float32 (0.286, not
 * 0.286000013). */
static char *floats_text(const float *v, int n, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < n && used < size; i++) {
        char one[32];
        for (int digits = 6; digits <= 9; digits++) {
            snprintf(one, sizeof one, "%.*g", digits, (double)v[i]);
            if (strtof(one, NULL) == v[i]) break;
        }
        used += (size_t)snprintf(out + used, size - used, "%s%s", i ? "," : "", one);
    }
    return out;
}

int vkc_onnx_export(const char *checkpoint, const char *path, bool with_head, VkcOnnxInfo *info)
{
    char file[1100];
    VkcTrainConfig cfg;
    int64_t step;
    VkcAugmentConfig aug;
    if (vkc_checkpoint_resolve(checkpoint, file, sizeof file) || vkc_checkpoint_read_config(file, &cfg, &step) ||
        vkc_run_augment(&cfg, &aug))
        return VKC_ERR;
    VkcModelConfig mc = cfg.model;
    mc.act_dtype = VKC_F32;
    VkcModel m;
    if (vkc_model_graph(&m, &mc)) return vkc_fail_context("%s: the model of its configuration", file);
    float *params = calloc(m.nparams + 1, sizeof(float)), *buffers = calloc(m.nbuffers + 1, sizeof(float));
    Writer w = {.names = calloc((size_t)m.nvalues, sizeof *w.names)};
    Pb model = {0};
    int rc = VKC_ERR;
    if (!params || !buffers || !w.names) {
        vkc_fail("out of host memory for the model of %s", file);
        goto done;
    }
    if (vkc_checkpoint_load_host(file, &m, params, buffers)) goto done;

    Source src = {.m = &m, .params = params, .buffers = buffers, .end = with_head ? m.nops : m.encoder_ops};
    int out_value = with_head ? m.embed_value : m.feature_value;
    const char *out_name = with_head ? "projections" : "features";
    int outputs = with_head ? mc.out_dim : m.features, C = mc.channels, H = mc.height, W = mc.width_px;
    snprintf(w.names[m.input_value], sizeof w.names[0], "input");
    snprintf(w.names[out_value], sizeof w.names[0], "%s", out_name);
    pb_string(&w.graph, GRAPH_NAME, "vkclr");
    if (emit_graph(&w, &src)) {
        vkc_fail_context("%s", file);
        goto done;
    }
    add_value_info(&w, GRAPH_INPUT, "input", (int64_t[4]){0, C, H, W}, 4);
    add_value_info(&w, GRAPH_OUTPUT, out_name, (int64_t[2]){0, outputs}, 2);

    const char *arch = vkc_name_of(vkc_encoder_names, (int)mc.encoder);
    char about[160], text[512], mean[128], std[128];
    snprintf(about, sizeof about, "%s width %d, step %lld (%.100s)", arch, mc.width, (long long)step, file);
    pb_int(&model, MODEL_IR_VERSION, VKC_ONNX_IR_VERSION);
    Pb opset = {0};
    pb_string(&opset, OPSET_DOMAIN, "");
    pb_int(&opset, OPSET_VERSION, VKC_ONNX_OPSET);
    pb_message(&model, MODEL_OPSET, &opset);
    pb_string(&model, MODEL_PRODUCER_NAME, "vkclr");
    pb_string(&model, MODEL_PRODUCER_VERSION, VKC_VERSION_STRING);
    snprintf(text, sizeof text, "vkclr %s of %s", with_head ? "encoder and projection head" : "encoder", about);
    pb_string(&model, MODEL_DOC, text);
    pb_message(&model, MODEL_GRAPH, &w.graph);
    snprintf(text, sizeof text, "NCHW float32 [batch, %d, %d, %d], %s", C, H, W,
             C == 3 ? "channels R, G, B" : "one gray channel");
    add_metadata(&model, "vkclr.input", text);
    add_metadata(&model, "vkclr.mean", floats_text(aug.mean, C, mean, sizeof mean));
    add_metadata(&model, "vkclr.std", floats_text(aug.std, C, std, sizeof std));
    snprintf(text, sizeof text, "input[c] = (pixel[c] / 255 - mean[c]) / std[c], pixel in 0..255, mean %s, std %s",
             mean, std);
    add_metadata(&model, "vkclr.normalization", text);
    add_metadata(&model, "vkclr.transform", VKC_EVAL_TRANSFORM_TEXT);
    snprintf(text, sizeof text, with_head ? "projections [batch, %d]: the projection head's output (before L2 "
                                            "normalisation)"
                                          : "features [batch, %d]: the encoder's output",
             outputs);
    add_metadata(&model, "vkclr.output", text);
    add_metadata(&model, "vkclr.encoder", about);
    add_metadata(&model, "vkclr.checkpoint", file);
    snprintf(text, sizeof text, "%lld", (long long)step);
    add_metadata(&model, "vkclr.step", text);
    char *json = vkc_config_to_json(&cfg, false);
    if (json) add_metadata(&model, "vkclr.config", json);
    free(json);
    if (model.failed || !json) {
        vkc_fail("out of host memory writing the ONNX model of %s", file);
        goto done;
    }
    if (vkc_write_file_atomic(path, (const void *const[]){model.p}, (const size_t[]){model.n}, 1)) goto done;
    if (info)
        *info = (VkcOnnxInfo){.channels = C, .height = H, .width = W, .outputs = outputs, .nodes = w.nodes,
                              .bytes = model.n};
    if (info) snprintf(info->about, sizeof info->about, "%s", about);
    rc = VKC_OK;
done:
    free(w.graph.p);
    free(model.p);
    free(w.names);
    free(params);
    free(buffers);
    vkc_model_destroy(&m);
    return rc;
}

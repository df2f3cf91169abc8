/* What an encoder (or the raw-pixel baseline) sees of an image in evaluation: the image at
 * the model's input size, its shorter side resized to it and the centre cropped (a resident
 * image of that size as it is; a collection's image decoded, a JPEG at the smallest scale that
 * still covers the crop). Shared by the extractors of src/eval. */
#ifndef VKCLR_EVAL_INPUT_H
#define VKCLR_EVAL_INPUT_H

#include "vkclr/augment.h"
#include "vkclr/data.h"

typedef struct {
    int height, width, channels;
    VkcDecoder *decoder;
    uint8_t *view;  /* height x width x channels */
    float *scratch;
    size_t scratch_floats;
} EvalInput;

int eval_input_init(EvalInput *in, int height, int width, int channels);
void eval_input_free(EvalInput *in);
/* Image i of split as the model sees it (*pixels: height x width x channels HWC, valid until
 * the next call). Fails naming the file of an image that cannot be decoded. */
int eval_input_image(EvalInput *in, const VkcDataset *ds, const VkcSplit *split, int i, const uint8_t **pixels);

#endif

/* STL-10's binary format: 96 x 96 RGB images, each a record of three planes (red, green,
 * blue), every plane stored column by column. */
#ifndef VKCLR_DATA_STL10_H
#define VKCLR_DATA_STL10_H

#define STL10_SIDE 96
#define STL10_RECORD (3 * STL10_SIDE * STL10_SIDE)

#endif

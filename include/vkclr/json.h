/* JSON read strictly. cJSON keeps an object's repeated key twice and finds the first; Python's
 * json module keeps the last: a file with a key twice means two different things to two
 * readers, so every JSON text vkclr reads (config.json and a checkpoint's configuration, the
 * checkpoint header, metrics.jsonl, export manifests, the tuning cache) is refused when any
 * object in it has a key twice. */
#ifndef VKCLR_JSON_H
#define VKCLR_JSON_H

#include <cjson/cJSON.h>

/* Parse `text` (nothing but white space may follow the value); *out gets the document, NULL on
 * failure. Messages name `origin`: "ORIGIN: not valid JSON", "ORIGIN: key 'k' twice in one
 * object (in 'parent')". */
int vkc_json_parse(const char *text, const char *origin, cJSON **out);
/* The same check on a parsed document: VKC_ERR naming the first key found twice. */
int vkc_json_check_unique(const cJSON *j, const char *origin);

#endif

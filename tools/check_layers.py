#!/usr/bin/env python3
"""The include-order check: check_layers.py [--graph] SOURCE_ROOT LAYER...

Each LAYER is NAME=FOLDER[,FOLDER]:HEADER[,HEADER], lowest layer first (the order of
meson.build). Fails if
  - a source file of a layer includes a public header (include/vkclr/X.h) of a higher layer,
  - a public header includes a header of a higher layer than its own,
  - a source file includes a private header of another folder ("../nn/x.h"),
  - a public header belongs to no layer, or to two,
  - a layer includes a header of a layer that its meson.build does not declare, directly or
    through the layers it declares (the X_dep names in the dependencies of its `layers +=`
    entry): the build would then not know that the one needs the other.
--graph prints, instead, each layer and the layers its meson.build declares (the graph
docs/architecture.md draws)."""
import os
import re
import sys

graph = sys.argv[1] == '--graph'
args = sys.argv[2:] if graph else sys.argv[1:]
root, specs = args[0], args[1:]
layers = []  # (name, folders, headers)
for spec in specs:
    name, rest = spec.split('=', 1)
    folders, headers = rest.split(':', 1)
    layers.append((name, [f for f in folders.split(',') if f], [h for h in headers.split(',') if h]))
rank = {name: i for i, (name, _, _) in enumerate(layers)}


def declared_uses(name, folders):
    """The layers a layer's meson.build declares (X_dep in the dependencies of its entry)."""
    path = os.path.join(root, folders[0], 'meson.build') if folders else None
    if not path or not os.path.exists(path):
        return []
    text = open(path, encoding='utf-8').read()
    m = re.search(r"layers \+= \[\['" + name + r"'.*?\[([^\[\]]*)\]\]\]", text, re.S)
    return [d for d in re.findall(r'(\w+)_dep', m.group(1)) if d in rank] if m else []


uses = {name: declared_uses(name, folders) for name, folders, _ in layers}


def reachable(name):
    seen, todo = set(), list(uses[name])
    while todo:
        u = todo.pop()
        if u not in seen:
            seen.add(u)
            todo += uses[u]
    return seen


if graph:
    for name, _, _ in layers:
        print(f'{name:8s} <- {", ".join(uses[name]) if uses[name] else "(libraries only)"}')
    sys.exit(0)
owner = {}
errors = []
for name, _, headers in layers:
    for h in headers:
        if h in owner:
            errors.append(f'include/vkclr/{h} is claimed by layers {owner[h]} and {name}')
        owner[h] = name
for h in sorted(os.listdir(os.path.join(root, 'include', 'vkclr'))):
    if h.endswith('.h') and h not in owner:
        errors.append(f'include/vkclr/{h} belongs to no layer: list it in its folder\'s meson.build')

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def includes(path):
    with open(path, encoding='utf-8') as f:
        return INCLUDE.findall(f.read())


def check(path, layer, shown):
    for inc in includes(path):
        base = os.path.basename(inc)
        if inc.startswith('vkclr/') or base == 'shader_names.h':
            target = owner.get(base)
            if target is None:
                continue  # reported above as belonging to no layer
            if rank[target] > rank[layer]:
                errors.append(f'{shown} ({layer}) includes {inc} of the higher layer {target}')
            elif target != layer and uses[layer] and target not in reachable(layer):
                errors.append(f'{shown} ({layer}) includes {inc} of {target}, which {layer}\'s meson.build does '
                              f'not declare (add {target}_dep to its dependencies)')
        elif inc.startswith('..'):
            errors.append(f'{shown} reaches into another folder with "{inc}": use a public header')


checked = 0
for name, folders, headers in layers:
    for folder in folders:
        for dirpath, _, files in os.walk(os.path.join(root, folder)):
            for fn in files:
                if fn.endswith(('.c', '.h', '.def')):
                    path = os.path.join(dirpath, fn)
                    check(path, name, os.path.relpath(path, root))
                    checked += 1
    for h in headers:
        path = os.path.join(root, 'include', 'vkclr', h)
        if os.path.exists(path):
            check(path, name, f'include/vkclr/{h}')
            checked += 1
for e in errors:
    print('include-order:', e)
print(f'{checked} files of {len(layers)} layers checked ({" -> ".join(n for n, _, _ in layers)}): '
      f'{len(errors)} problem(s)')
sys.exit(1 if errors else 0)

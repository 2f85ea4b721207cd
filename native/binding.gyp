{
  "targets": [
    {
      "target_name": "perpnode_crypto",
      "sources": ["src/addon.c", "src/stark.c"],
      "cflags": ["-O3", "-std=gnu11", "-fno-tree-vectorize", "-fvisibility=hidden"],
      "cflags!": ["-O2"],
      "defines": ["NAPI_VERSION=8"],
      "libraries": ["-lpthread"],
      "xcode_settings": {
        "OTHER_CFLAGS": ["-O3", "-std=gnu11", "-fno-tree-vectorize"]
      }
    }
  ]
}

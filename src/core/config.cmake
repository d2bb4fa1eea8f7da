# Configuration loader and schema (src/core/config/*). Embeds config/**/*.yaml.
target_sources(lt_core PRIVATE
  config/config.cpp
  config/kernel_schema.cpp
  config/layer.cpp
  config/loader.cpp
)
file(GLOB_RECURSE LT_CONFIG_FILES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/config/*.yaml)
lt_embed(TARGET lt_core FUNCTION config_files BASE ${PROJECT_SOURCE_DIR}/config FILES ${LT_CONFIG_FILES})

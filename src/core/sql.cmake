# SqlDatabase helpers shared by every adapter: value accessors, migration runner. Embeds migrations.
target_sources(lt_core PRIVATE sql/migrations.cpp)
file(GLOB_RECURSE LT_MIGRATION_FILES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/migrations/*.sql)
lt_embed(TARGET lt_core FUNCTION migration_files BASE ${PROJECT_SOURCE_DIR}/migrations FILES ${LT_MIGRATION_FILES})

# Warnings as errors, in one INTERFACE target every bimhub target links.
add_library(bh_warnings INTERFACE)
target_compile_options(bh_warnings INTERFACE
  -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wformat=2 -Wno-unused-parameter -Wvla
  # method and option tables leave trailing fields at their defaults
  -Wno-missing-field-initializers)

if(BH_SANITIZE)
  add_compile_options(-fsanitize=${BH_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=${BH_SANITIZE})
endif()

# The fuzzers need coverage of the code they drive, not only of their own file.
if(BH_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

# bh_add_unit_test(name source...): a cmocka test linked with the real core library.
function(bh_add_unit_test name)
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE bimhub_core PkgConfig::CMOCKA)
  add_test(NAME unit.${name} COMMAND ${name})
  set_tests_properties(unit.${name} PROPERTIES LABELS unit TIMEOUT 120)
endfunction()

#-----------------------------------------------------------------------------
# The headless library (cardiogen) and the model registry with the small demo weights (Resources/Models) in the
# BUILD tree, laid out as in the install tree:
#   <lib>/cardiogen/...            the package (cardiogen.weights looks for Resources/Models beside it)
#   <lib>/Resources/Models/...     registry.json and the .safetensors files
# with <lib> = ${CMAKE_BINARY_DIR}/${Slicer_QTSCRIPTEDMODULES_LIB_DIR}, so the modules and ctest (the modules'
# self-tests, which load the shipped weights) work from the build tree without installing.
# configure_file(COPYONLY) copies again when a source file changes.
#
# Needs CARDIOGEN_SOURCE_DIR, CMAKE_BINARY_DIR and Slicer_QTSCRIPTEDMODULES_LIB_DIR; sets CARDIOGEN_LOGIC_FILES and
# CARDIOGEN_MODEL_FILES (relative paths) for the install rules. Testing/static/test_extension_layout.py runs this
# file with `cmake -P` and loads the weights from the tree it makes.
set(_cardiogen_lib_dir ${CMAKE_BINARY_DIR}/${Slicer_QTSCRIPTEDMODULES_LIB_DIR})

file(GLOB_RECURSE CARDIOGEN_LOGIC_FILES RELATIVE ${CARDIOGEN_SOURCE_DIR}/CardioGenLogic
  ${CARDIOGEN_SOURCE_DIR}/CardioGenLogic/cardiogen/*.py
  ${CARDIOGEN_SOURCE_DIR}/CardioGenLogic/cardiogen/*.yaml)
foreach(_file ${CARDIOGEN_LOGIC_FILES})
  configure_file(${CARDIOGEN_SOURCE_DIR}/CardioGenLogic/${_file} ${_cardiogen_lib_dir}/${_file} COPYONLY)
endforeach()

file(GLOB CARDIOGEN_MODEL_FILES RELATIVE ${CARDIOGEN_SOURCE_DIR}/Resources/Models
  ${CARDIOGEN_SOURCE_DIR}/Resources/Models/*.json
  ${CARDIOGEN_SOURCE_DIR}/Resources/Models/*.safetensors)
list(FIND CARDIOGEN_MODEL_FILES "registry.json" _registry_index)
if(_registry_index EQUAL -1)
  message(FATAL_ERROR "CardioGen: ${CARDIOGEN_SOURCE_DIR}/Resources/Models/registry.json not found")
endif()
foreach(_file ${CARDIOGEN_MODEL_FILES})
  configure_file(${CARDIOGEN_SOURCE_DIR}/Resources/Models/${_file} ${_cardiogen_lib_dir}/Resources/Models/${_file}
    COPYONLY)
endforeach()

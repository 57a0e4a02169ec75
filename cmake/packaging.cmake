# What `cmake --install` puts in place, in two components:
#   Runtime      bin/dcas, its man pages, its documents and example configuration files
#                (share/doc/dcas)
#   Development  the protocol core (lib/libdcas-protocol.a, include/dcas/...) and its CMake
#                package: find_package(dcas) gives the target dcas::protocol
# and the Debian packages CPack builds from the same tree (scripts/package.sh): dcas (Runtime, and
# the component RuntimeSystem: the systemd units, /etc/dcas, Debian's copyright and changelog) and
# libdcas-dev (Development and DevelopmentDocs). The two Debian-only components are left out of a
# plain `cmake --install`.
include(CMakePackageConfigHelpers)

set(DCAS_SYSTEMD_UNIT_DIR "/lib/systemd/system" CACHE PATH "Where the Debian package puts the systemd units")
set(DCAS_PACKAGING_DIR ${CMAKE_SOURCE_DIR}/packaging)

# ---- Runtime -------------------------------------------------------------------------------------
install(TARGETS dcas RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT Runtime)
install(FILES README.md docs/spec.md docs/security.md docs/architecture.md docs/performance.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT Runtime)
file(GLOB DCAS_EXAMPLE_CONFIGS CONFIGURE_DEPENDS ${DCAS_PACKAGING_DIR}/config/*.conf)
install(FILES ${DCAS_EXAMPLE_CONFIGS} DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT Runtime)
# The Wireshark dissector: `tshark -X lua_script:/usr/share/dcas/wireshark/dcas.lua` (README).
install(FILES ${CMAKE_SOURCE_DIR}/packaging/wireshark/dcas.lua DESTINATION ${CMAKE_INSTALL_DATADIR}/dcas/wireshark
        COMPONENT Runtime)

# The man pages, written by the program itself from its command definitions (dcas manpages).
set(DCAS_MAN_DIR ${CMAKE_BINARY_DIR}/man)
add_custom_command(
  OUTPUT ${DCAS_MAN_DIR}/dcas.1.gz
  COMMAND ${CMAKE_COMMAND} -E rm -rf ${DCAS_MAN_DIR}
  COMMAND dcas manpages ${DCAS_MAN_DIR}
  COMMAND sh -c "gzip -9nf '${DCAS_MAN_DIR}'/*.1"
  DEPENDS dcas
  COMMENT "Writing the man pages"
  VERBATIM)
add_custom_target(manpages ALL DEPENDS ${DCAS_MAN_DIR}/dcas.1.gz)
install(DIRECTORY ${DCAS_MAN_DIR}/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT Runtime)

file(GLOB DCAS_UNITS CONFIGURE_DEPENDS ${DCAS_PACKAGING_DIR}/systemd/*.service)
install(FILES ${DCAS_UNITS} DESTINATION ${DCAS_SYSTEMD_UNIT_DIR} COMPONENT RuntimeSystem EXCLUDE_FROM_ALL)
install(FILES ${DCAS_EXAMPLE_CONFIGS} DESTINATION /etc/dcas COMPONENT RuntimeSystem EXCLUDE_FROM_ALL)

# ---- Development: the protocol core and its CMake package --------------------------------------
install(TARGETS dcas_protocol EXPORT dcasTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Development)
# A stripped install (the package's) keeps the archive's symbols and drops its debugging sections.
install(CODE "if(CMAKE_INSTALL_DO_STRIP)
  execute_process(COMMAND ${CMAKE_STRIP} --strip-debug
                  \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/libdcas-protocol.a\")
endif()" COMPONENT Development)
foreach(layer ${DCAS_PROTOCOL_LAYERS})
  install(DIRECTORY ${CMAKE_SOURCE_DIR}/src/${layer} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/dcas
          COMPONENT Development FILES_MATCHING PATTERN "*.h")
endforeach()
set(DCAS_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/dcas)
install(EXPORT dcasTargets NAMESPACE dcas:: DESTINATION ${DCAS_CMAKE_DIR} COMPONENT Development)
configure_package_config_file(${DCAS_PACKAGING_DIR}/dcasConfig.cmake.in ${CMAKE_BINARY_DIR}/dcasConfig.cmake
                              INSTALL_DESTINATION ${DCAS_CMAKE_DIR})
# 0.x: a new minor version may change the API.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/dcasConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/dcasConfig.cmake ${CMAKE_BINARY_DIR}/dcasConfigVersion.cmake
        DESTINATION ${DCAS_CMAKE_DIR} COMPONENT Development)

# ---- The Debian packages -------------------------------------------------------------------------
# Debian wants each package's copyright and a compressed changelog in its own doc directory.
set(DCAS_DEB_DOC ${CMAKE_BINARY_DIR}/debian-doc)
add_custom_command(
  OUTPUT ${DCAS_DEB_DOC}/changelog.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${DCAS_DEB_DOC}
  COMMAND sh -c "gzip -9nc '${DCAS_PACKAGING_DIR}/debian/changelog' > '${DCAS_DEB_DOC}/changelog.gz'"
  DEPENDS ${DCAS_PACKAGING_DIR}/debian/changelog
  VERBATIM)
add_custom_target(debian_doc ALL DEPENDS ${DCAS_DEB_DOC}/changelog.gz)
foreach(component_package RuntimeSystem:dcas DevelopmentDocs:libdcas-dev)
  string(REPLACE ":" ";" pair ${component_package})
  list(GET pair 0 component)
  list(GET pair 1 package)
  install(FILES ${DCAS_PACKAGING_DIR}/debian/copyright ${DCAS_DEB_DOC}/changelog.gz
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${package} COMPONENT ${component} EXCLUDE_FROM_ALL)
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dcas)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "The DCAS developers")
set(CPACK_PACKAGE_CONTACT "The DCAS developers <dcas@example.org>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL Runtime RuntimeSystem Development DevelopmentDocs)
set(CPACK_COMPONENTS_GROUPING ONE_PER_GROUP)  # one package per group below
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME dcas)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION net)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)  # the runtime libraries, from what the binary links
set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS "adduser")  # the postinst creates the user (deb-systemd-invoke is essential)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA
    ${DCAS_PACKAGING_DIR}/debian/postinst ${DCAS_PACKAGING_DIR}/debian/prerm ${DCAS_PACKAGING_DIR}/debian/postrm
    ${DCAS_PACKAGING_DIR}/debian/conffiles)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# CPack indents each line after the first by one space itself.
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION
   "Downloadable Conditional Access System with the SM-TP security protocol
DCAS implements the Downloadable Conditional Access System and its Secure
Micro - Transport Processor security protocol (Koo et al., ETRI Journal
2010): the Trusted Authority server, the MSO headend (Authentication Proxy,
personalization and download server, CAS) and the set-top host, on OpenSSL 3
and real X.509, with the paper's profile and a hardened one.
.
This package holds the dcas program, systemd units for the TA, the headend and
a stand-alone AP, their configuration files under /etc/dcas and the manual.")

set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME libdcas-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS "libssl-dev (>= 3.0), libfmt-dev")
set(CPACK_DEBIAN_DEVELOPMENT_DESCRIPTION
   "DCAS SM-TP security protocol core (development files)
The protocol core of DCAS as a static library with its headers and a CMake
package (find_package(dcas), target dcas::protocol): the Secure Micro,
Transport Processor, Authentication Proxy and Trusted Authority as I/O-free
state machines, the wire codec, the key derivations, the certificates and the
cryptography beneath them, without the servers.")

include(CPack)
cpack_add_component_group(runtime)
cpack_add_component_group(development)
cpack_add_component(Runtime GROUP runtime)
cpack_add_component(RuntimeSystem GROUP runtime)
cpack_add_component(Development GROUP development)
cpack_add_component(DevelopmentDocs GROUP development)

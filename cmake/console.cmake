# The web console (web/): a Preact single-page app built with Vite, embedded in the binary and
# served under /console/ (src/http/console.cc). The build copies web/ into the build tree, runs
# `npm ci` when package.json or package-lock.json change and `npm run build` when a source
# changes, then turns dist/ into generated/console_assets.cc. Needs node and npm (Node 18+;
# scripts/install-deps.sh installs Debian's). -DCALLPOST_WEB_CONSOLE=OFF builds without it.
option(CALLPOST_WEB_CONSOLE "Build the web console (needs node and npm)" ON)
set(CONSOLE_ASSETS_CC ${CMAKE_BINARY_DIR}/generated/console_assets.cc)
set(WEB_SRC ${CMAKE_SOURCE_DIR}/web)
set(WEB_BUILD ${CMAKE_BINARY_DIR}/web)

if(CALLPOST_WEB_CONSOLE)
  find_program(CALLPOST_NODE node)
  find_program(CALLPOST_NPM npm)
  if(NOT CALLPOST_NODE OR NOT CALLPOST_NPM)
    message(FATAL_ERROR "the web console needs node and npm: run scripts/install-deps.sh, or "
                        "configure with -DCALLPOST_WEB_CONSOLE=OFF")
  endif()
  file(MAKE_DIRECTORY ${WEB_BUILD})
  file(GLOB_RECURSE web_sources CONFIGURE_DEPENDS ${WEB_SRC}/src/*)
  set(web_files ${WEB_SRC}/index.html ${WEB_SRC}/vite.config.ts ${WEB_SRC}/tsconfig.json)
  add_custom_command(
    OUTPUT ${WEB_BUILD}/npm-ci.stamp
    COMMAND ${CMAKE_COMMAND} -E copy ${WEB_SRC}/package.json ${WEB_SRC}/package-lock.json
            ${WEB_BUILD}/
    COMMAND ${CALLPOST_NPM} ci --no-audit --no-fund --loglevel=error
    COMMAND ${CMAKE_COMMAND} -E touch ${WEB_BUILD}/npm-ci.stamp
    DEPENDS ${WEB_SRC}/package.json ${WEB_SRC}/package-lock.json
    WORKING_DIRECTORY ${WEB_BUILD}
    COMMENT "web console: npm ci"
    VERBATIM)
  add_custom_command(
    OUTPUT ${CONSOLE_ASSETS_CC}
    COMMAND ${CMAKE_COMMAND} -E rm -rf ${WEB_BUILD}/src ${WEB_BUILD}/dist
    COMMAND ${CMAKE_COMMAND} -E copy_directory ${WEB_SRC}/src ${WEB_BUILD}/src
    COMMAND ${CMAKE_COMMAND} -E copy ${web_files} ${WEB_BUILD}/
    COMMAND ${CALLPOST_NPM} run --silent build
    COMMAND ${CMAKE_COMMAND} -DDIST=${WEB_BUILD}/dist -DOUT=${CONSOLE_ASSETS_CC}
            -P ${CMAKE_SOURCE_DIR}/cmake/embed_console.cmake
    DEPENDS ${WEB_BUILD}/npm-ci.stamp ${web_sources} ${web_files}
            ${CMAKE_SOURCE_DIR}/cmake/embed_console.cmake
    WORKING_DIRECTORY ${WEB_BUILD}
    COMMENT "web console: npm run build"
    VERBATIM)
  add_custom_target(web_console DEPENDS ${CONSOLE_ASSETS_CC})
else()
  execute_process(COMMAND ${CMAKE_COMMAND} -DDIST=${WEB_BUILD}/none -DOUT=${CONSOLE_ASSETS_CC}
                          -P ${CMAKE_SOURCE_DIR}/cmake/embed_console.cmake)
endif()
target_sources(callpost_http PRIVATE ${CONSOLE_ASSETS_CC})

# Tests: the console's unit tests (vitest) and the end-to-end test (Playwright driving Debian's
# chromium against the real server). They fail, not skip, when node or chromium is missing.
if(CALLPOST_WEB_CONSOLE)
  add_test(NAME console_unit COMMAND ${CALLPOST_NPM} run --silent test WORKING_DIRECTORY ${WEB_BUILD})
  add_test(NAME console_e2e COMMAND ${CALLPOST_NODE} ${CMAKE_SOURCE_DIR}/tests/console/e2e.mjs)
  # Alone: Chromium takes both cores for a while, which would starve the SIP load test.
  set_tests_properties(console_e2e PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE ENVIRONMENT
    "CALLPOST_BINARY=$<TARGET_FILE:callpost>;CONSOLE_NODE_MODULES=${WEB_BUILD}/node_modules")
else()
  add_test(NAME console_e2e COMMAND ${CMAKE_COMMAND} -E false)
endif()

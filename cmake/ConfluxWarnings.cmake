# conflux_target_warnings(target): warnings on for our own code only.
# Third-party headers are included as SYSTEM so they stay quiet.
function(conflux_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                         -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
                         -Wunused -Woverloaded-virtual -Wnull-dereference
                         -Wimplicit-fallthrough)
  if(CONFLUX_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

// The one translation unit that compiles Asio's and Beast's out-of-line definitions.
//
// Every file that includes Asio or Beast headers (only http/server.cc) must be compiled with
// -DBOOST_ASIO_SEPARATE_COMPILATION and -DBOOST_BEAST_SEPARATE_COMPILATION, so that the
// headers declare these functions instead of defining them inline; this file supplies the
// definitions once. Keeping them here means editing server.cc recompiles only server.cc.
#if !defined(BOOST_ASIO_SEPARATE_COMPILATION) || !defined(BOOST_BEAST_SEPARATE_COMPILATION)
#error "compile with -DBOOST_ASIO_SEPARATE_COMPILATION -DBOOST_BEAST_SEPARATE_COMPILATION"
#endif

#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>

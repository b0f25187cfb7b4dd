// tocsin — thin main: everything lives in the library (src/cli).
#include "cli/cli.hpp"

int main(int argc, char** argv) { return tocsin::cli::Main(argc, argv); }

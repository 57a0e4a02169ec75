#include "kat/selftest.h"
#include <algorithm>
#include <cstdio>
int main(){auto o=dcas::kat::run_all(); int bad=0; for(auto&f:o){std::printf("%s %zu %s\n",f.file.c_str(),f.passed,f.ok()?"ok":"FAIL"); for(auto&e:f.failures) std::printf("  %s\n",e.c_str()); bad+=!f.ok();} return bad;}

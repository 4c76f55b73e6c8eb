/* Imports a function no host provides: runWasix must refuse it with WasixLinkError. */
__attribute__((import_module("env"), import_name("mystery"))) int mystery(void);
int main(void) { return mystery(); }

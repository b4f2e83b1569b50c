// The floor of a start-up for scripts/bench.sh's figures 1 and 3: a program that only returns, built and
// linked (static) as the plugins are, spawned the way they are. No plugin can start faster or smaller.
int main() { return 0; }

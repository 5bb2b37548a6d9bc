#ifndef USER_H
#define USER_H
void enter_user(void (*fn)(void)) __attribute__((noreturn));
#endif

//! The shell's table of cases: setup files, a command line, the expected stdout and exit code.
//! Expected outputs were produced by running the same command lines with GNU bash/coreutils
//! (LC_ALL=C) in a temp dir used as $HOME; paths under it print as `$HOME`. Shared by the
//! native suite (`commands.rs`) and the component suite (`tests/shell.rs` in the root workspace).
#![allow(dead_code)]

pub struct Case {
    pub name: &'static str,
    pub files: &'static [(&'static str, Option<&'static str>)],
    pub cmd: &'static str,
    pub out: &'static str,
    pub code: i32,
}

pub const CASES: &[Case] = &[
    Case {
        name: r#"echo_basic"#,
        files: &[],
        cmd: r#"echo hello world"#,
        out: r#"hello world
"#,
        code: 0,
    },
    Case {
        name: r#"echo_n"#,
        files: &[],
        cmd: r#"echo -n hi; echo there"#,
        out: r#"hithere
"#,
        code: 0,
    },
    Case {
        name: r#"echo_e"#,
        files: &[],
        cmd: r#"echo -e 'a\tb\nc'"#,
        out: r#"a	b
c
"#,
        code: 0,
    },
    Case {
        name: r#"quotes_single"#,
        files: &[],
        cmd: r#"echo 'a  $HOME  b'"#,
        out: r#"a  $HOME  b
"#,
        code: 0,
    },
    Case {
        name: r#"quotes_double"#,
        files: &[],
        cmd: r#"X=world; echo "hello  $X" "${X}s""#,
        out: r#"hello  world worlds
"#,
        code: 0,
    },
    Case {
        name: r#"quotes_escape"#,
        files: &[],
        cmd: r#"echo a\ b \$X "q\"uote" 'it'"'"'s'"#,
        out: r#"a b $X q"uote it's
"#,
        code: 0,
    },
    Case {
        name: r#"var_unset_empty"#,
        files: &[],
        cmd: r#"echo "[$NOPE]" [$NOPE]"#,
        out: r#"[] []
"#,
        code: 0,
    },
    Case {
        name: r#"var_default"#,
        files: &[],
        cmd: r#"echo ${NOPE:-dflt} ${#HOME_LEN_TEST} ; Y=abc; echo ${#Y} ${Y:1} ${Y^^}"#,
        out: r#"dflt 0
3 bc ABC
"#,
        code: 0,
    },
    Case {
        name: r#"var_strip"#,
        files: &[],
        cmd: r#"F=dir/file.tar.gz; echo ${F%.gz} ${F%%.*} ${F#*/} ${F##*.} ${F/file/x}"#,
        out: r#"dir/file.tar dir/file file.tar.gz gz dir/x.tar.gz
"#,
        code: 0,
    },
    Case {
        name: r#"exit_status_var"#,
        files: &[],
        cmd: r#"false; echo $?; true; echo $?"#,
        out: r#"1
0
"#,
        code: 0,
    },
    Case {
        name: r#"and_or"#,
        files: &[],
        cmd: r#"true && echo yes || echo no; false && echo yes || echo no"#,
        out: r#"yes
no
"#,
        code: 0,
    },
    Case {
        name: r#"semicolons_newlines"#,
        files: &[],
        cmd: r#"echo a; echo b
echo c"#,
        out: r#"a
b
c
"#,
        code: 0,
    },
    Case {
        name: r#"comments"#,
        files: &[],
        cmd: r#"echo a # comment here
# whole line
echo b"#,
        out: r#"a
b
"#,
        code: 0,
    },
    Case {
        name: r#"export_env"#,
        files: &[],
        cmd: r#"export FOO=bar; printenv FOO; env | grep -c '^FOO=bar$'"#,
        out: r#"bar
1
"#,
        code: 0,
    },
    Case {
        name: r#"prefix_assign"#,
        files: &[],
        cmd: r#"FOO=1 printenv FOO; echo "[${FOO}]""#,
        out: r#"1
[]
"#,
        code: 0,
    },
    Case {
        name: r#"unset_var"#,
        files: &[],
        cmd: r#"A=1; unset A; echo "[$A]""#,
        out: r#"[]
"#,
        code: 0,
    },
    Case {
        name: r#"pipe_basic"#,
        files: &[(
            r#"f.txt"#,
            Some(
                r#"apple
banana
apple
cherry
banana
apple
"#,
            ),
        )],
        cmd: r#"cat f.txt | sort | uniq -c | sort -rn"#,
        out: r#"      3 apple
      2 banana
      1 cherry
"#,
        code: 0,
    },
    Case {
        name: r#"redirect_out"#,
        files: &[],
        cmd: r#"echo one > o.txt; echo two >> o.txt; cat o.txt"#,
        out: r#"one
two
"#,
        code: 0,
    },
    Case {
        name: r#"redirect_in"#,
        files: &[(
            r#"f.txt"#,
            Some(
                r#"10
2
33
4
2
"#,
            ),
        )],
        cmd: r#"sort -n < f.txt"#,
        out: r#"2
2
4
10
33
"#,
        code: 0,
    },
    Case {
        name: r#"redirect_err"#,
        files: &[],
        cmd: r#"ls nonexistent 2> err.txt; echo code=$?; cat err.txt"#,
        out: r#"code=2
ls: cannot access 'nonexistent': No such file or directory
"#,
        code: 0,
    },
    Case {
        name: r#"redirect_err_to_out"#,
        files: &[],
        cmd: r#"ls nonexistent 2>&1 | sed 's/^/E: /'"#,
        out: r#"E: ls: cannot access 'nonexistent': No such file or directory
"#,
        code: 0,
    },
    Case {
        name: r#"redirect_both"#,
        files: &[],
        cmd: r#"{ echo out; ls nope; } &> both.txt; sort both.txt"#,
        out: r#"ls: cannot access 'nope': No such file or directory
out
"#,
        code: 0,
    },
    Case {
        name: r#"devnull"#,
        files: &[],
        cmd: r#"ls nope 2>/dev/null; echo $?; echo hidden > /dev/null; echo done"#,
        out: r#"2
done
"#,
        code: 0,
    },
    Case {
        name: r#"glob_star"#,
        files: &[(r#"a.txt"#, Some(r#""#)), (r#"b.txt"#, Some(r#""#)), (r#"c.md"#, Some(r#""#))],
        cmd: r#"echo *.txt"#,
        out: r#"a.txt b.txt
"#,
        code: 0,
    },
    Case {
        name: r#"glob_question_class"#,
        files: &[(r#"a1"#, Some(r#""#)), (r#"a2"#, Some(r#""#)), (r#"b1"#, Some(r#""#))],
        cmd: r#"echo a? [ab]1"#,
        out: r#"a1 a2 a1 b1
"#,
        code: 0,
    },
    Case {
        name: r#"glob_nomatch"#,
        files: &[],
        cmd: r#"echo *.xyz"#,
        out: r#"*.xyz
"#,
        code: 0,
    },
    Case {
        name: r#"glob_dir"#,
        files: &[(r#"d/x.py"#, Some(r#""#)), (r#"d/y.py"#, Some(r#""#)), (r#"d/z.txt"#, Some(r#""#))],
        cmd: r#"echo d/*.py; cd d && echo *.py"#,
        out: r#"d/x.py d/y.py
x.py y.py
"#,
        code: 0,
    },
    Case {
        name: r#"glob_hidden"#,
        files: &[(r#".hidden"#, Some(r#""#)), (r#"vis"#, Some(r#""#))],
        cmd: r#"echo *"#,
        out: r#"vis
"#,
        code: 0,
    },
    Case {
        name: r#"cmd_subst"#,
        files: &[(
            r#"f.txt"#,
            Some(
                r#"10
2
33
4
2
"#,
            ),
        )],
        cmd: r#"N=$(wc -l < f.txt); echo "lines: $N"; echo `echo back`"#,
        out: r#"lines: 5
back
"#,
        code: 0,
    },
    Case {
        name: r#"arith"#,
        files: &[],
        cmd: r#"i=5; echo $((i * 2 + 1)) $(( (3+4) % 5 )) $((2**10)) $((10/3))"#,
        out: r#"11 2 1024 3
"#,
        code: 0,
    },
    Case {
        name: r#"for_loop"#,
        files: &[],
        cmd: r#"for x in a b c; do echo "item $x"; done"#,
        out: r#"item a
item b
item c
"#,
        code: 0,
    },
    Case {
        name: r#"for_glob"#,
        files: &[
            (
                r#"a.txt"#,
                Some(
                    r#"1
"#,
                ),
            ),
            (
                r#"b.txt"#,
                Some(
                    r#"1
2
"#,
                ),
            ),
        ],
        cmd: r#"for f in *.txt; do echo $f $(wc -l < $f); done"#,
        out: r#"a.txt 1
b.txt 2
"#,
        code: 0,
    },
    Case {
        name: r#"for_brace_seq"#,
        files: &[],
        cmd: r#"for i in {1..5}; do printf '%s ' $i; done; echo; echo {a,b}{1,2}"#,
        out: r#"1 2 3 4 5 
a1 a2 b1 b2
"#,
        code: 0,
    },
    Case {
        name: r#"while_loop"#,
        files: &[],
        cmd: r#"i=0; while [ $i -lt 3 ]; do echo $i; i=$((i+1)); done"#,
        out: r#"0
1
2
"#,
        code: 0,
    },
    Case {
        name: r#"while_read"#,
        files: &[(
            r#"f.txt"#,
            Some(
                r#"a 1
b 2
"#,
            ),
        )],
        cmd: r#"while read name num; do echo "$num-$name"; done < f.txt"#,
        out: r#"1-a
2-b
"#,
        code: 0,
    },
    Case {
        name: r#"pipe_while_read"#,
        files: &[],
        cmd: r#"printf 'x\ny\n' | while read l; do echo got $l; done"#,
        out: r#"got x
got y
"#,
        code: 0,
    },
    Case {
        name: r#"if_elif_else"#,
        files: &[],
        cmd: r#"for n in 1 5 10; do if [ $n -lt 3 ]; then echo small; elif [ $n -lt 7 ]; then echo mid; else echo big; fi; done"#,
        out: r#"small
mid
big
"#,
        code: 0,
    },
    Case {
        name: r#"test_files"#,
        files: &[(r#"f"#, Some(r#"x"#)), (r#"d/g"#, Some(r#""#))],
        cmd: r#"[ -f f ] && echo file; [ -d d ] && echo dir; [ -e nope ] || echo missing; test -s f && echo nonempty; [ -z "" ] && echo empty"#,
        out: r#"file
dir
missing
nonempty
empty
"#,
        code: 0,
    },
    Case {
        name: r#"test_strings"#,
        files: &[],
        cmd: r#"[ abc = abc ] && echo eq; [ a != b ] && echo ne; [ -n x ] && echo n; [ 3 -ge 3 ] && echo ge; [ ! -e nope ] && echo not"#,
        out: r#"eq
ne
n
ge
not
"#,
        code: 0,
    },
    Case {
        name: r#"case_stmt"#,
        files: &[],
        cmd: r#"for f in a.txt b.py c; do case $f in *.txt) echo text;; *.py|*.pyw) echo python;; *) echo other;; esac; done"#,
        out: r#"text
python
other
"#,
        code: 0,
    },
    Case {
        name: r#"group_braces"#,
        files: &[],
        cmd: r#"{ echo a; echo b; } | wc -l"#,
        out: r#"2
"#,
        code: 0,
    },
    Case {
        name: r#"subshell"#,
        files: &[],
        cmd: r#"(cd /; pwd); pwd | grep -c /"#,
        out: r#"/
1
"#,
        code: 0,
    },
    Case {
        name: r#"function_def"#,
        files: &[],
        cmd: r#"greet() { echo "hi $1, $# args"; return 3; }; greet bob x; echo $?"#,
        out: r#"hi bob, 2 args
3
"#,
        code: 0,
    },
    Case {
        name: r#"exit_code"#,
        files: &[],
        cmd: r#"echo before; exit 3; echo after"#,
        out: r#"before
"#,
        code: 3,
    },
    Case {
        name: r#"heredoc"#,
        files: &[],
        cmd: r#"cat <<EOF
hello $USER
line2
EOF"#,
        out: r#"hello user
line2
"#,
        code: 0,
    },
    Case {
        name: r#"heredoc_quoted"#,
        files: &[],
        cmd: r#"cat <<'EOF' > h.txt
raw $HOME `x`
EOF
cat h.txt"#,
        out: r#"raw $HOME `x`
"#,
        code: 0,
    },
    Case {
        name: r#"herestring"#,
        files: &[],
        cmd: r#"tr a-z A-Z <<< 'shout'"#,
        out: r#"SHOUT
"#,
        code: 0,
    },
    Case {
        name: r#"negate"#,
        files: &[],
        cmd: r#"! false && echo negated"#,
        out: r#"negated
"#,
        code: 0,
    },
    Case {
        name: r#"cd_dotdot"#,
        files: &[(r#"a/b/f"#, Some(r#""#))],
        cmd: r#"cd a/b && pwd | sed 's|.*/a/b$|OK|'; cd ../.. && ls"#,
        out: r#"OK
a
"#,
        code: 0,
    },
    Case {
        name: r#"nested_subst"#,
        files: &[],
        cmd: r#"echo "$(echo "inner $(echo deep)")""#,
        out: r#"inner deep
"#,
        code: 0,
    },
    Case {
        name: r#"break_continue"#,
        files: &[],
        cmd: r#"for i in 1 2 3 4 5; do [ $i = 2 ] && continue; [ $i = 4 ] && break; echo $i; done"#,
        out: r#"1
3
"#,
        code: 0,
    },
    Case {
        name: r#"read_builtin"#,
        files: &[],
        cmd: r#"echo 'one two three' | { read a b; echo "$b|$a"; }"#,
        out: r#"two three|one
"#,
        code: 0,
    },
    Case {
        name: r#"ls_basic"#,
        files: &[(r#"b.txt"#, Some(r#""#)), (r#"a.txt"#, Some(r#""#)), (r#"d/x"#, Some(r#""#))],
        cmd: r#"ls"#,
        out: r#"a.txt
b.txt
d
"#,
        code: 0,
    },
    Case {
        name: r#"ls_a"#,
        files: &[(r#".h"#, Some(r#""#)), (r#"v"#, Some(r#""#))],
        cmd: r#"ls -a; echo --; ls -A"#,
        out: r#".
..
.h
v
--
.h
v
"#,
        code: 0,
    },
    Case {
        name: r#"ls_dir_args"#,
        files: &[(r#"d1/a"#, Some(r#""#)), (r#"d2/b"#, Some(r#""#)), (r#"f"#, Some(r#""#))],
        cmd: r#"ls d1 d2 f"#,
        out: r#"f

d1:
a

d2:
b
"#,
        code: 0,
    },
    Case {
        name: r#"ls_R"#,
        files: &[(r#"d/e/f"#, Some(r#""#)), (r#"d/g"#, Some(r#""#))],
        cmd: r#"ls -R d"#,
        out: r#"d:
e
g

d/e:
f
"#,
        code: 0,
    },
    Case {
        name: r#"ls_missing"#,
        files: &[],
        cmd: r#"ls nope; echo $?"#,
        out: r#"2
"#,
        code: 0,
    },
    Case {
        name: r#"ls_S_r"#,
        files: &[
            (
                r#"big"#,
                Some(
                    r#"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"#,
                ),
            ),
            (r#"small"#, Some(r#"x"#)),
            (r#"mid"#, Some(r#"xxxxxxxxxx"#)),
        ],
        cmd: r#"ls -S; ls -r"#,
        out: r#"big
mid
small
small
mid
big
"#,
        code: 0,
    },
    Case {
        name: r#"ls_1"#,
        files: &[(r#"a"#, Some(r#""#)), (r#"b"#, Some(r#""#))],
        cmd: r#"ls -1"#,
        out: r#"a
b
"#,
        code: 0,
    },
    Case {
        name: r#"cat_n"#,
        files: &[(
            r#"f"#,
            Some(
                r#"a
b
"#,
            ),
        )],
        cmd: r#"cat -n f"#,
        out: r#"     1	a
     2	b
"#,
        code: 0,
    },
    Case {
        name: r#"cat_missing"#,
        files: &[],
        cmd: r#"cat nope; echo $?"#,
        out: r#"1
"#,
        code: 0,
    },
    Case {
        name: r#"cat_multi"#,
        files: &[
            (
                r#"a"#,
                Some(
                    r#"1
"#,
                ),
            ),
            (
                r#"b"#,
                Some(
                    r#"2
"#,
                ),
            ),
        ],
        cmd: r#"cat a b - < a"#,
        out: r#"1
2
1
"#,
        code: 0,
    },
    Case {
        name: r#"head_n"#,
        files: &[(
            r#"f"#,
            Some(
                r#"1
2
3
4
5
6
7
8
9
10
11
12
13
14
15
16
17
18
19
20
"#,
            ),
        )],
        cmd: r#"head -n 3 f; head -2 f; head -c 5 f"#,
        out: r#"1
2
3
1
2
1
2
3"#,
        code: 0,
    },
    Case {
        name: r#"tail_n"#,
        files: &[(
            r#"f"#,
            Some(
                r#"1
2
3
4
5
6
7
8
9
10
11
12
13
14
15
16
17
18
19
20
"#,
            ),
        )],
        cmd: r#"tail -n 3 f; tail -2 f; tail -n +18 f"#,
        out: r#"18
19
20
19
20
18
19
20
"#,
        code: 0,
    },
    Case {
        name: r#"head_multi"#,
        files: &[
            (
                r#"a"#,
                Some(
                    r#"1
2
"#,
                ),
            ),
            (
                r#"b"#,
                Some(
                    r#"3
"#,
                ),
            ),
        ],
        cmd: r#"head -n 1 a b"#,
        out: r#"==> a <==
1

==> b <==
3
"#,
        code: 0,
    },
    Case {
        name: r#"wc_all"#,
        files: &[(
            r#"f"#,
            Some(
                r#"the quick brown fox
jumps over the lazy dog
The End
"#,
            ),
        )],
        cmd: r#"wc f; wc -l f; wc -w < f; wc -c f"#,
        out: r#" 3 11 52 f
3 f
11
52 f
"#,
        code: 0,
    },
    Case {
        name: r#"wc_multi"#,
        files: &[
            (
                r#"a"#,
                Some(
                    r#"1
2
"#,
                ),
            ),
            (
                r#"b"#,
                Some(
                    r#"x y z
"#,
                ),
            ),
        ],
        cmd: r#"wc -l a b"#,
        out: r#" 2 a
 1 b
 3 total
"#,
        code: 0,
    },
    Case {
        name: r#"grep_basic"#,
        files: &[(
            r#"f"#,
            Some(
                r#"the quick brown fox
jumps over the lazy dog
The End
"#,
            ),
        )],
        cmd: r#"grep the f"#,
        out: r#"the quick brown fox
jumps over the lazy dog
"#,
        code: 0,
    },
    Case {
        name: r#"grep_i_n"#,
        files: &[(
            r#"f"#,
            Some(
                r#"the quick brown fox
jumps over the lazy dog
The End
"#,
            ),
        )],
        cmd: r#"grep -in the f"#,
        out: r#"1:the quick brown fox
2:jumps over the lazy dog
3:The End
"#,
        code: 0,
    },
    Case {
        name: r#"grep_v_c"#,
        files: &[(
            r#"f"#,
            Some(
                r#"the quick brown fox
jumps over the lazy dog
The End
"#,
            ),
        )],
        cmd: r#"grep -v fox f; grep -c the f"#,
        out: r#"jumps over the lazy dog
The End
2
"#,
        code: 0,
    },
    Case {
        name: r#"grep_E"#,
        files: &[(
            r#"f"#,
            Some(
                r#"the quick brown fox
jumps over the lazy dog
The End
"#,
            ),
        )],
        cmd: r#"grep -E 'fox|dog' f"#,
        out: r#"the quick brown fox
jumps over the lazy dog
"#,
        code: 0,
    },
    Case {
        name: r#"grep_bre_groups"#,
        files: &[(
            r#"f"#,
            Some(
                r#"aaa
abab
xyz
"#,
            ),
        )],
        cmd: r#"grep 'a\{3\}' f; grep '\(ab\)\+' f"#,
        out: r#"aaa
abab
"#,
        code: 0,
    },
    Case {
        name: r#"grep_o_w"#,
        files: &[(
            r#"f"#,
            Some(
                r#"cat catalog cat
concat
"#,
            ),
        )],
        cmd: r#"grep -o cat f; grep -w cat f"#,
        out: r#"cat
cat
cat
cat
cat catalog cat
"#,
        code: 0,
    },
    Case {
        name: r#"grep_r"#,
        files: &[
            (
                r#"src/a.py"#,
                Some(
                    r#"import os
# TODO: fix
x = 1
"#,
                ),
            ),
            (
                r#"src/b.py"#,
                Some(
                    r#"def f():
    pass  # TODO later
"#,
                ),
            ),
            (
                r#"src/sub/c.txt"#,
                Some(
                    r#"nothing here
TODO one
TODO two
"#,
                ),
            ),
            (
                r#"README.md"#,
                Some(
                    r#"# Project
TODO: docs
"#,
                ),
            ),
        ],
        cmd: r#"grep -rn TODO src | sort"#,
        out: r#"src/a.py:2:# TODO: fix
src/b.py:2:    pass  # TODO later
src/sub/c.txt:2:TODO one
src/sub/c.txt:3:TODO two
"#,
        code: 0,
    },
    Case {
        name: r#"grep_r_count"#,
        files: &[
            (
                r#"src/a.py"#,
                Some(
                    r#"import os
# TODO: fix
x = 1
"#,
                ),
            ),
            (
                r#"src/b.py"#,
                Some(
                    r#"def f():
    pass  # TODO later
"#,
                ),
            ),
            (
                r#"src/sub/c.txt"#,
                Some(
                    r#"nothing here
TODO one
TODO two
"#,
                ),
            ),
            (
                r#"README.md"#,
                Some(
                    r#"# Project
TODO: docs
"#,
                ),
            ),
        ],
        cmd: r#"grep -rn TODO src | wc -l"#,
        out: r#"4
"#,
        code: 0,
    },
    Case {
        name: r#"grep_l_L"#,
        files: &[
            (
                r#"src/a.py"#,
                Some(
                    r#"import os
# TODO: fix
x = 1
"#,
                ),
            ),
            (
                r#"src/b.py"#,
                Some(
                    r#"def f():
    pass  # TODO later
"#,
                ),
            ),
            (
                r#"src/sub/c.txt"#,
                Some(
                    r#"nothing here
TODO one
TODO two
"#,
                ),
            ),
            (
                r#"README.md"#,
                Some(
                    r#"# Project
TODO: docs
"#,
                ),
            ),
        ],
        cmd: r#"grep -rl TODO . | sort; grep -L import src/a.py src/b.py"#,
        out: r#"./README.md
./src/a.py
./src/b.py
./src/sub/c.txt
src/b.py
"#,
        code: 0,
    },
    Case {
        name: r#"grep_F"#,
        files: &[(
            r#"f"#,
            Some(
                r#"a.b
axb
"#,
            ),
        )],
        cmd: r#"grep -F a.b f; grep a.b f"#,
        out: r#"a.b
a.b
axb
"#,
        code: 0,
    },
    Case {
        name: r#"grep_multi_file"#,
        files: &[
            (
                r#"a"#,
                Some(
                    r#"x
"#,
                ),
            ),
            (
                r#"b"#,
                Some(
                    r#"x
y
"#,
                ),
            ),
        ],
        cmd: r#"grep x a b; grep -h x a b"#,
        out: r#"a:x
b:x
x
x
"#,
        code: 0,
    },
    Case {
        name: r#"grep_context"#,
        files: &[(
            r#"f"#,
            Some(
                r#"1
2
3
match
5
6
7
8
match
10
"#,
            ),
        )],
        cmd: r#"grep -n -C1 match f; grep -A1 match f"#,
        out: r#"3-3
4:match
5-5
--
8-8
9:match
10-10
match
5
--
match
10
"#,
        code: 0,
    },
    Case {
        name: r#"grep_nomatch"#,
        files: &[(
            r#"f"#,
            Some(
                r#"a
"#,
            ),
        )],
        cmd: r#"grep zzz f; echo $?; grep x nofile; echo $?"#,
        out: r#"1
2
"#,
        code: 0,
    },
    Case {
        name: r#"grep_e_multi"#,
        files: &[(
            r#"f"#,
            Some(
                r#"a
b
c
"#,
            ),
        )],
        cmd: r#"grep -e a -e c f"#,
        out: r#"a
c
"#,
        code: 0,
    },
    Case {
        name: r#"grep_x_q"#,
        files: &[(
            r#"f"#,
            Some(
                r#"abc
ab
"#,
            ),
        )],
        cmd: r#"grep -x ab f; grep -q abc f && echo found"#,
        out: r#"ab
found
"#,
        code: 0,
    },
    Case {
        name: r#"grep_stdin"#,
        files: &[],
        cmd: r#"printf 'x1\ny2\nx3\n' | grep ^x"#,
        out: r#"x1
x3
"#,
        code: 0,
    },
    Case {
        name: r#"grep_include"#,
        files: &[
            (
                r#"src/a.py"#,
                Some(
                    r#"import os
# TODO: fix
x = 1
"#,
                ),
            ),
            (
                r#"src/b.py"#,
                Some(
                    r#"def f():
    pass  # TODO later
"#,
                ),
            ),
            (
                r#"src/sub/c.txt"#,
                Some(
                    r#"nothing here
TODO one
TODO two
"#,
                ),
            ),
            (
                r#"README.md"#,
                Some(
                    r#"# Project
TODO: docs
"#,
                ),
            ),
        ],
        cmd: r#"grep -r --include='*.py' TODO . | sort"#,
        out: r#"./src/a.py:# TODO: fix
./src/b.py:    pass  # TODO later
"#,
        code: 0,
    },
    Case {
        name: r#"find_name"#,
        files: &[(r#"a.txt"#, Some(r#""#)), (r#"d/b.txt"#, Some(r#""#)), (r#"d/c.md"#, Some(r#""#))],
        cmd: r#"find . -name '*.txt' | sort"#,
        out: r#"./a.txt
./d/b.txt
"#,
        code: 0,
    },
    Case {
        name: r#"find_type"#,
        files: &[(r#"a.txt"#, Some(r#""#)), (r#"d/b.txt"#, Some(r#""#)), (r#"d/e/c"#, Some(r#""#))],
        cmd: r#"find . -type d | sort; find d -type f | sort"#,
        out: r#".
./d
./d/e
d/b.txt
d/e/c
"#,
        code: 0,
    },
    Case {
        name: r#"find_maxdepth"#,
        files: &[(r#"a"#, Some(r#""#)), (r#"d/b"#, Some(r#""#)), (r#"d/e/c"#, Some(r#""#))],
        cmd: r#"find . -maxdepth 1 | sort; find . -mindepth 2 -type f | sort"#,
        out: r#".
./a
./d
./d/b
./d/e/c
"#,
        code: 0,
    },
    Case {
        name: r#"find_size"#,
        files: &[
            (
                r#"big"#,
                Some(
                    r#"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"#,
                ),
            ),
            (r#"small"#, Some(r#"x"#)),
        ],
        cmd: r#"find . -type f -size +1k; find . -size -2 -type f"#,
        out: r#"./big
./small
"#,
        code: 0,
    },
    Case {
        name: r#"find_not_or"#,
        files: &[(r#"a.py"#, Some(r#""#)), (r#"b.txt"#, Some(r#""#)), (r#"c.md"#, Some(r#""#))],
        cmd: r#"find . -type f ! -name '*.py' | sort; find . -name '*.py' -o -name '*.md' | sort"#,
        out: r#"./b.txt
./c.md
./a.py
./c.md
"#,
        code: 0,
    },
    Case {
        name: r#"find_path_iname"#,
        files: &[(r#"src/A.TXT"#, Some(r#""#)), (r#"lib/b.txt"#, Some(r#""#))],
        cmd: r#"find . -path './src/*'; find . -iname 'a.txt'"#,
        out: r#"./src/A.TXT
./src/A.TXT
"#,
        code: 0,
    },
    Case {
        name: r#"find_exec"#,
        files: &[
            (
                r#"a.txt"#,
                Some(
                    r#"hi
"#,
                ),
            ),
            (
                r#"b.txt"#,
                Some(
                    r#"yo
"#,
                ),
            ),
        ],
        cmd: r#"find . -name '*.txt' -exec cat {} \; | sort"#,
        out: r#"hi
yo
"#,
        code: 0,
    },
    Case {
        name: r#"find_xargs_wc"#,
        files: &[
            (
                r#"a.txt"#,
                Some(
                    r#"1
2
"#,
                ),
            ),
            (
                r#"d/b.txt"#,
                Some(
                    r#"1
"#,
                ),
            ),
        ],
        cmd: r#"find . -name '*.txt' | sort | xargs wc -l"#,
        out: r#"2 ./a.txt
1 ./d/b.txt
3 total
"#,
        code: 0,
    },
    Case {
        name: r#"find_empty_delete"#,
        files: &[(r#"e"#, Some(r#""#)), (r#"f"#, Some(r#"x"#)), (r#"d/"#, None)],
        cmd: r#"find . -empty | sort; find . -name e -delete; ls"#,
        out: r#"./d
./e
d
f
"#,
        code: 0,
    },
    Case {
        name: r#"sort_n_r"#,
        files: &[(
            r#"f"#,
            Some(
                r#"10
2
33
4
2
"#,
            ),
        )],
        cmd: r#"sort -n f; sort -rn f; sort f"#,
        out: r#"2
2
4
10
33
33
10
4
2
2
10
2
2
33
4
"#,
        code: 0,
    },
    Case {
        name: r#"sort_u"#,
        files: &[(
            r#"f"#,
            Some(
                r#"apple
banana
apple
cherry
banana
apple
"#,
            ),
        )],
        cmd: r#"sort -u f"#,
        out: r#"apple
banana
cherry
"#,
        code: 0,
    },
    Case {
        name: r#"sort_k_t"#,
        files: &[(
            r#"f"#,
            Some(
                r#"name,score,city
alice,90,paris
bob,85,berlin
carol,90,rome
dave,70,paris
eve,85,oslo
frank,90,paris
"#,
            ),
        )],
        cmd: r#"tail -n +2 f | sort -t, -k2,2n -k1,1r"#,
        out: r#"dave,70,paris
eve,85,oslo
bob,85,berlin
frank,90,paris
carol,90,rome
alice,90,paris
"#,
        code: 0,
    },
    Case {
        name: r#"sort_f"#,
        files: &[(
            r#"f"#,
            Some(
                r#"b
A
a
B
"#,
            ),
        )],
        cmd: r#"sort -f f"#,
        out: r#"A
a
B
b
"#,
        code: 0,
    },
    Case {
        name: r#"sort_h"#,
        files: &[(
            r#"f"#,
            Some(
                r#"1K
5M
200
2G
"#,
            ),
        )],
        cmd: r#"sort -h f"#,
        out: r#"200
1K
5M
2G
"#,
        code: 0,
    },
    Case {
        name: r#"uniq_flags"#,
        files: &[(
            r#"f"#,
            Some(
                r#"a
a
b
c
c
c
"#,
            ),
        )],
        cmd: r#"uniq f; uniq -c f; uniq -d f; uniq -u f"#,
        out: r#"a
b
c
      2 a
      1 b
      3 c
a
c
b
"#,
        code: 0,
    },
    Case {
        name: r#"cut_fields"#,
        files: &[(
            r#"f"#,
            Some(
                r#"name,score,city
alice,90,paris
bob,85,berlin
carol,90,rome
dave,70,paris
eve,85,oslo
frank,90,paris
"#,
            ),
        )],
        cmd: r#"cut -d, -f1,3 f | head -3; cut -d, -f2- f | tail -1"#,
        out: r#"name,city
alice,paris
bob,berlin
90,paris
"#,
        code: 0,
    },
    Case {
        name: r#"cut_chars"#,
        files: &[(
            r#"f"#,
            Some(
                r#"abcdef
123456
"#,
            ),
        )],
        cmd: r#"cut -c2-4 f; cut -c1,6 f"#,
        out: r#"bcd
234
af
16
"#,
        code: 0,
    },
    Case {
        name: r#"tr_basic"#,
        files: &[],
        cmd: r#"echo 'Hello World' | tr a-z A-Z; echo 'hello' | tr -d l; echo 'aabbcc' | tr -s ab; echo abc | tr '[:lower:]' '[:upper:]'"#,
        out: r#"HELLO WORLD
heo
abcc
ABC
"#,
        code: 0,
    },
    Case {
        name: r#"tr_newlines"#,
        files: &[],
        cmd: r#"echo 'a b c' | tr ' ' '\n'"#,
        out: r#"a
b
c
"#,
        code: 0,
    },
    Case {
        name: r#"csv_pipeline"#,
        files: &[(
            r#"data.csv"#,
            Some(
                r#"name,score,city
alice,90,paris
bob,85,berlin
carol,90,rome
dave,70,paris
eve,85,oslo
frank,90,paris
"#,
            ),
        )],
        cmd: r#"cat data.csv | cut -d, -f2 | sort -n | uniq -c | sort -rn | head -3"#,
        out: r#"      3 90
      2 85
      1 score
"#,
        code: 0,
    },
    Case {
        name: r#"sed_s"#,
        files: &[(
            r#"f"#,
            Some(
                r#"the quick brown fox
jumps over the lazy dog
The End
"#,
            ),
        )],
        cmd: r#"sed 's/the/THE/' f; sed 's/o/0/g' f"#,
        out: r#"THE quick brown fox
jumps over THE lazy dog
The End
the quick br0wn f0x
jumps 0ver the lazy d0g
The End
"#,
        code: 0,
    },
    Case {
        name: r#"sed_n_p"#,
        files: &[(
            r#"f"#,
            Some(
                r#"the quick brown fox
jumps over the lazy dog
The End
"#,
            ),
        )],
        cmd: r#"sed -n '2p' f; sed -n '/fox/p' f"#,
        out: r#"jumps over the lazy dog
the quick brown fox
"#,
        code: 0,
    },
    Case {
        name: r#"sed_d_range"#,
        files: &[(
            r#"f"#,
            Some(
                r#"1
2
3
4
5
"#,
            ),
        )],
        cmd: r#"sed '2,4d' f; sed '$d' f; sed -n '2,$p' f"#,
        out: r#"1
5
1
2
3
4
2
3
4
5
"#,
        code: 0,
    },
    Case {
        name: r#"sed_groups"#,
        files: &[(
            r#"f"#,
            Some(
                r#"john smith
"#,
            ),
        )],
        cmd: r#"sed 's/\(\w*\) \(\w*\)/\2, \1/' f; sed -E 's/(\w+) (\w+)/\2 \1 &/' f"#,
        out: r#"smith, john
smith john john smith
"#,
        code: 0,
    },
    Case {
        name: r#"sed_i"#,
        files: &[(
            r#"f"#,
            Some(
                r#"a
b
"#,
            ),
        )],
        cmd: r#"sed -i 's/a/A/' f; cat f"#,
        out: r#"A
b
"#,
        code: 0,
    },
    Case {
        name: r#"sed_multi_e"#,
        files: &[(
            r#"f"#,
            Some(
                r#"abc
"#,
            ),
        )],
        cmd: r#"sed -e 's/a/1/' -e 's/c/3/' f; sed 's/a/1/;s/b/2/' f"#,
        out: r#"1b3
12c
"#,
        code: 0,
    },
    Case {
        name: r#"sed_I_nth"#,
        files: &[(
            r#"f"#,
            Some(
                r#"aAaA
"#,
            ),
        )],
        cmd: r#"sed 's/a/x/2' f; sed 's/a/y/Ig' f"#,
        out: r#"aAxA
yyyy
"#,
        code: 0,
    },
    Case {
        name: r#"sed_aic"#,
        files: &[(
            r#"f"#,
            Some(
                r#"1
2
"#,
            ),
        )],
        cmd: r#"sed '1a after' f; sed '2i before' f; sed '1c changed' f"#,
        out: r#"1
after
2
1
before
2
changed
2
"#,
        code: 0,
    },
    Case {
        name: r#"sed_regex_range"#,
        files: &[(
            r#"f"#,
            Some(
                r#"x
START
a
END
y
"#,
            ),
        )],
        cmd: r#"sed -n '/START/,/END/p' f"#,
        out: r#"START
a
END
"#,
        code: 0,
    },
    Case {
        name: r#"sed_y_eq"#,
        files: &[(
            r#"f"#,
            Some(
                r#"abc
"#,
            ),
        )],
        cmd: r#"sed 'y/abc/xyz/' f; sed -n '$=' f"#,
        out: r#"xyz
1
"#,
        code: 0,
    },
    Case {
        name: r#"sed_stdin_delim"#,
        files: &[],
        cmd: r#"echo /usr/local/bin | sed 's|/usr|/opt|'"#,
        out: r#"/opt/local/bin
"#,
        code: 0,
    },
    Case {
        name: r#"awk_print_fields"#,
        files: &[(
            r#"f"#,
            Some(
                r#"a 1
b 2
"#,
            ),
        )],
        cmd: r#"awk '{print $2, $1}' f"#,
        out: r#"1 a
2 b
"#,
        code: 0,
    },
    Case {
        name: r#"awk_F_sum"#,
        files: &[(
            r#"data.csv"#,
            Some(
                r#"name,score,city
alice,90,paris
bob,85,berlin
carol,90,rome
dave,70,paris
eve,85,oslo
frank,90,paris
"#,
            ),
        )],
        cmd: r#"awk -F, 'NR>1 {s+=$2} END {print s}' data.csv"#,
        out: r#"510
"#,
        code: 0,
    },
    Case {
        name: r#"awk_filter"#,
        files: &[(
            r#"data.csv"#,
            Some(
                r#"name,score,city
alice,90,paris
bob,85,berlin
carol,90,rome
dave,70,paris
eve,85,oslo
frank,90,paris
"#,
            ),
        )],
        cmd: r#"awk -F, 'NR>1 && $2>85 {print $1, $2}' data.csv"#,
        out: r#"alice 90
carol 90
frank 90
"#,
        code: 0,
    },
    Case {
        name: r#"awk_count"#,
        files: &[(
            r#"data.csv"#,
            Some(
                r#"name,score,city
alice,90,paris
bob,85,berlin
carol,90,rome
dave,70,paris
eve,85,oslo
frank,90,paris
"#,
            ),
        )],
        cmd: r#"awk -F, 'NR>1 {c[$3]++} END {for (k in c) print k, c[k]}' data.csv | sort"#,
        out: r#"berlin 1
oslo 1
paris 3
rome 1
"#,
        code: 0,
    },
    Case {
        name: r#"awk_printf"#,
        files: &[(
            r#"f"#,
            Some(
                r#"a 1.5
b 2.25
"#,
            ),
        )],
        cmd: r#"awk '{printf "%-3s|%6.2f|%d\n", $1, $2, $2}' f"#,
        out: r#"a  |  1.50|1
b  |  2.25|2
"#,
        code: 0,
    },
    Case {
        name: r#"awk_builtins"#,
        files: &[],
        cmd: r#"echo 'Hello World foo' | awk '{print length($0), substr($2,1,3), toupper($1), index($0,"World"), NF}'"#,
        out: r#"15 Wor HELLO 7 3
"#,
        code: 0,
    },
    Case {
        name: r#"awk_gsub_split"#,
        files: &[],
        cmd: r#"echo 'a-b-c' | awk '{n=split($0, p, "-"); gsub(/-/, "+"); print n, p[3], $0}'"#,
        out: r#"3 c a+b+c
"#,
        code: 0,
    },
    Case {
        name: r#"awk_regex_pattern"#,
        files: &[(
            r#"f"#,
            Some(
                r#"the quick brown fox
jumps over the lazy dog
The End
"#,
            ),
        )],
        cmd: r#"awk '/fox|dog/ {print NR": "$0}' f"#,
        out: r#"1: the quick brown fox
2: jumps over the lazy dog
"#,
        code: 0,
    },
    Case {
        name: r#"awk_begin_vars"#,
        files: &[],
        cmd: r#"awk -v x=3 'BEGIN {y = x * 2; print y, x "s"; if (y > 5) print "big"; else print "small"}'"#,
        out: r#"6 3s
big
"#,
        code: 0,
    },
    Case {
        name: r#"awk_ofs_nf"#,
        files: &[(
            r#"f"#,
            Some(
                r#"a b c
"#,
            ),
        )],
        cmd: r#"awk 'BEGIN{OFS="-"} {$1=$1; print; print $NF, NF}' f"#,
        out: r#"a-b-c
c-3
"#,
        code: 0,
    },
    Case {
        name: r#"awk_while_arrays"#,
        files: &[],
        cmd: r#"awk 'BEGIN { i = 0; while (i < 3) { a[i] = i * i; i++ }; for (j = 0; j < 3; j++) printf "%d ", a[j]; print ""; if (2 in a) print "has 2"; delete a[2]; print length(a) }'"#,
        out: r#"0 1 4 
has 2
2
"#,
        code: 0,
    },
    Case {
        name: r#"awk_func"#,
        files: &[],
        cmd: r#"awk 'function sq(x) { return x*x } BEGIN { print sq(4), sq(1.5) }'"#,
        out: r#"16 2.25
"#,
        code: 0,
    },
    Case {
        name: r#"awk_match_sub"#,
        files: &[],
        cmd: r##"echo 'foo123bar' | awk '{ if (match($0, /[0-9]+/)) print RSTART, RLENGTH; sub(/[0-9]+/, "#"); print }'"##,
        out: r#"4 3
foo#bar
"#,
        code: 0,
    },
    Case {
        name: r#"awk_numstr_compare"#,
        files: &[(
            r#"f"#,
            Some(
                r#"10 9
2 10
abc 5
"#,
            ),
        )],
        cmd: r#"awk '$1 > $2 {print $1}' f"#,
        out: r#"10
abc
"#,
        code: 0,
    },
    Case {
        name: r#"awk_concat_ternary"#,
        files: &[],
        cmd: r#"awk 'BEGIN { x = 5; s = x > 3 ? "yes" : "no"; print s "-" x+1; print 1/3; print 2^20; print -7 % 3 }'"#,
        out: r#"yes-6
0.333333
1048576
-1
"#,
        code: 0,
    },
    Case {
        name: r#"awk_next_exit"#,
        files: &[(
            r#"f"#,
            Some(
                r#"1
2
3
4
"#,
            ),
        )],
        cmd: r#"awk '$1 == 2 {next} $1 == 4 {exit} {print}' f"#,
        out: r#"1
3
"#,
        code: 0,
    },
    Case {
        name: r#"awk_tab_fs"#,
        files: &[(
            r#"f"#,
            Some(
                r#"a	b c	d
"#,
            ),
        )],
        cmd: r#"awk -F'\t' '{print $2}' f"#,
        out: r#"b c
"#,
        code: 0,
    },
    Case {
        name: r#"awk_multiple_files"#,
        files: &[
            (
                r#"a"#,
                Some(
                    r#"1
"#,
                ),
            ),
            (
                r#"b"#,
                Some(
                    r#"2
"#,
                ),
            ),
        ],
        cmd: r#"awk '{print FILENAME, FNR, NR}' a b"#,
        out: r#"a 1 1
b 1 2
"#,
        code: 0,
    },
    Case {
        name: r#"printf_formats"#,
        files: &[],
        cmd: r#"printf '%s=%d|%5.2f|%x|%o|%e|%%\n' a 42 3.14159 255 8 1234.5; printf '%-5s|%05d\n' ab 42"#,
        out: r#"a=42| 3.14|ff|10|1.234500e+03|%
ab   |00042
"#,
        code: 0,
    },
    Case {
        name: r#"printf_reuse"#,
        files: &[],
        cmd: r#"printf '%s-%s\n' a b c d e"#,
        out: r#"a-b
c-d
e-
"#,
        code: 0,
    },
    Case {
        name: r#"printf_g"#,
        files: &[],
        cmd: r#"printf '%g %g %g %g\n' 0.0001 123456789 100 1e-10"#,
        out: r#"0.0001 1.23457e+08 100 1e-10
"#,
        code: 0,
    },
    Case {
        name: r#"seq_forms"#,
        files: &[],
        cmd: r#"seq 3; seq 2 4; seq 1 2 7; seq -s, 1 5; seq 5 -2 1"#,
        out: r#"1
2
3
2
3
4
1
3
5
7
1,2,3,4,5
5
3
1
"#,
        code: 0,
    },
    Case {
        name: r#"seq_w_float"#,
        files: &[],
        cmd: r#"seq -w 8 10; seq 0 0.5 2"#,
        out: r#"08
09
10
0.0
0.5
1.0
1.5
2.0
"#,
        code: 0,
    },
    Case {
        name: r#"mkdir_p_rmdir"#,
        files: &[],
        cmd: r#"mkdir -p a/b/c && ls a/b; rmdir a/b/c && ls a/b | wc -l; mkdir a; echo $?"#,
        out: r#"c
0
1
"#,
        code: 0,
    },
    Case {
        name: r#"rm_r_f"#,
        files: &[(r#"d/x"#, Some(r#""#)), (r#"f"#, Some(r#""#))],
        cmd: r#"rm f; rm d; echo $?; rm -r d; rm -f nope; echo $?; ls | wc -l; rm nope"#,
        out: r#"1
0
0
"#,
        code: 1,
    },
    Case {
        name: r#"cp_mv"#,
        files: &[
            (
                r#"a"#,
                Some(
                    r#"A
"#,
                ),
            ),
            (r#"d/"#, None),
        ],
        cmd: r#"cp a b; cp a d/; mv b c; ls; ls d; cat c"#,
        out: r#"a
c
d
a
A
"#,
        code: 0,
    },
    Case {
        name: r#"cp_r"#,
        files: &[
            (
                r#"src/x"#,
                Some(
                    r#"1
"#,
                ),
            ),
            (
                r#"src/s/y"#,
                Some(
                    r#"2
"#,
                ),
            ),
        ],
        cmd: r#"cp -r src dst; find dst | sort; cp src other; echo $?"#,
        out: r#"dst
dst/s
dst/s/y
dst/x
1
"#,
        code: 0,
    },
    Case {
        name: r#"mv_into_dir"#,
        files: &[(r#"a"#, Some(r#""#)), (r#"b"#, Some(r#""#)), (r#"d/"#, None)],
        cmd: r#"mv a b d; ls d"#,
        out: r#"a
b
"#,
        code: 0,
    },
    Case {
        name: r#"touch_new"#,
        files: &[],
        cmd: r#"touch new.txt; ls; wc -c new.txt"#,
        out: r#"new.txt
0 new.txt
"#,
        code: 0,
    },
    Case {
        name: r#"basename_dirname"#,
        files: &[],
        cmd: r#"basename /a/b/c.txt; basename /a/b/c.txt .txt; dirname /a/b/c.txt; dirname c.txt; basename /a/b/"#,
        out: r#"c.txt
c
/a/b
.
b
"#,
        code: 0,
    },
    Case {
        name: r#"realpath_rel"#,
        files: &[(r#"d/"#, None)],
        cmd: r#"cd d; realpath -m ../x/./y | sed "s|$HOME|HOME|""#,
        out: r#"HOME/x/y
"#,
        code: 0,
    },
    Case {
        name: r#"du_s"#,
        files: &[
            (
                r#"d/a"#,
                Some(
                    r#"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"#,
                ),
            ),
            (r#"d/b"#, Some(r#"y"#)),
        ],
        cmd: r#"du -s d | cut -f2"#,
        out: r#"d
"#,
        code: 0,
    },
    Case {
        name: r#"diff_normal"#,
        files: &[
            (
                r#"a"#,
                Some(
                    r#"1
2
3
"#,
                ),
            ),
            (
                r#"b"#,
                Some(
                    r#"1
X
3
4
"#,
                ),
            ),
        ],
        cmd: r#"diff a b; echo $?"#,
        out: r#"2c2
< 2
---
> X
3a4
> 4
1
"#,
        code: 0,
    },
    Case {
        name: r#"diff_same"#,
        files: &[
            (
                r#"a"#,
                Some(
                    r#"1
"#,
                ),
            ),
            (
                r#"b"#,
                Some(
                    r#"1
"#,
                ),
            ),
        ],
        cmd: r#"diff a b; echo $?"#,
        out: r#"0
"#,
        code: 0,
    },
    Case {
        name: r#"diff_u"#,
        files: &[
            (
                r#"a"#,
                Some(
                    r#"1
2
3
4
5
6
7
8
9
"#,
                ),
            ),
            (
                r#"b"#,
                Some(
                    r#"1
2
3
4
five
6
7
8
9
"#,
                ),
            ),
        ],
        cmd: r#"diff -u a b | tail -n +3"#,
        out: r#"@@ -2,7 +2,7 @@
 2
 3
 4
-5
+five
 6
 7
 8
"#,
        code: 0,
    },
    Case {
        name: r#"diff_q"#,
        files: &[
            (
                r#"a"#,
                Some(
                    r#"1
"#,
                ),
            ),
            (
                r#"b"#,
                Some(
                    r#"2
"#,
                ),
            ),
        ],
        cmd: r#"diff -q a b"#,
        out: r#"Files a and b differ
"#,
        code: 1,
    },
    Case {
        name: r#"diff_missing"#,
        files: &[(
            r#"a"#,
            Some(
                r#"1
"#,
            ),
        )],
        cmd: r#"diff a nope; echo $?"#,
        out: r#"2
"#,
        code: 0,
    },
    Case {
        name: r#"diff_r"#,
        files: &[
            (
                r#"x/a"#,
                Some(
                    r#"1
"#,
                ),
            ),
            (r#"x/only"#, Some(r#""#)),
            (
                r#"y/a"#,
                Some(
                    r#"2
"#,
                ),
            ),
        ],
        cmd: r#"diff -r x y"#,
        out: r#"diff -r x/a y/a
1c1
< 1
---
> 2
Only in x: only
"#,
        code: 1,
    },
    Case {
        name: r#"md5_sha"#,
        files: &[(
            r#"f"#,
            Some(
                r#"hello
"#,
            ),
        )],
        cmd: r#"md5sum f; sha256sum f; sha1sum f; echo -n abc | sha256sum"#,
        out: r#"b1946ac92492d2347c6235b4d2611184  f
5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  f
f572d396fae9206628714fb2ce00f72e94f2258f  f
ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  -
"#,
        code: 0,
    },
    Case {
        name: r#"sha_check"#,
        files: &[(
            r#"f"#,
            Some(
                r#"hello
"#,
            ),
        )],
        cmd: r#"sha256sum f > s.txt; sha256sum -c s.txt"#,
        out: r#"f: OK
"#,
        code: 0,
    },
    Case {
        name: r#"base64_rt"#,
        files: &[],
        cmd: r#"echo 'hello world' | base64; echo aGVsbG8gd29ybGQK | base64 -d"#,
        out: r#"aGVsbG8gd29ybGQK
hello world
"#,
        code: 0,
    },
    Case {
        name: r#"tar_roundtrip"#,
        files: &[
            (
                r#"dir/a.txt"#,
                Some(
                    r#"A
"#,
                ),
            ),
            (
                r#"dir/sub/b.txt"#,
                Some(
                    r#"B
"#,
                ),
            ),
        ],
        cmd: r#"tar -czf a.tgz dir && mkdir out && tar -xzf a.tgz -C out && diff -r dir out/dir && echo same; tar -tzf a.tgz | sort"#,
        out: r#"same
dir/
dir/a.txt
dir/sub/
dir/sub/b.txt
"#,
        code: 0,
    },
    Case {
        name: r#"tar_plain_bundled"#,
        files: &[
            (
                r#"f1"#,
                Some(
                    r#"1
"#,
                ),
            ),
            (
                r#"f2"#,
                Some(
                    r#"2
"#,
                ),
            ),
        ],
        cmd: r#"tar cf x.tar f1 f2 && rm f1 f2 && tar xf x.tar && cat f1 f2; tar tvf x.tar | wc -l"#,
        out: r#"1
2
2
"#,
        code: 0,
    },
    Case {
        name: r#"gzip_gunzip"#,
        files: &[(
            r#"f.txt"#,
            Some(
                r#"data
data
data
data
data
data
data
data
data
data
"#,
            ),
        )],
        cmd: r#"gzip f.txt; ls; gunzip f.txt.gz; cat f.txt | wc -l; gzip -k f.txt; ls; zcat f.txt.gz | head -1; gzip -c f.txt | gunzip -c | wc -c"#,
        out: r#"f.txt.gz
10
f.txt
f.txt.gz
data
50
"#,
        code: 0,
    },
    Case {
        name: r#"zip_unzip"#,
        files: &[
            (
                r#"d/a.txt"#,
                Some(
                    r#"hello
"#,
                ),
            ),
            (
                r#"d/b.txt"#,
                Some(
                    r#"world
"#,
                ),
            ),
        ],
        cmd: r#"zip -qr a.zip d && mkdir o && unzip -q a.zip -d o && diff -r d o/d && echo same; unzip -l a.zip | tail -1"#,
        out: r#"same
       12                     3 files
"#,
        code: 0,
    },
    Case {
        name: r#"date_fmt"#,
        files: &[],
        cmd: r#"date -d @0 '+%Y-%m-%d %H:%M:%S'; date -u -d @86400 +%s; date -d '2024-03-05' '+%a %b %e %j'"#,
        out: r#"1970-01-01 00:00:00
86400
Tue Mar  5 065
"#,
        code: 0,
    },
    Case {
        name: r#"which_type"#,
        files: &[],
        cmd: r#"which ls; type cd; which nosuch; echo $?"#,
        out: r#"/usr/bin/ls
cd is a shell builtin
1
"#,
        code: 0,
    },
    Case {
        name: r#"true_false"#,
        files: &[],
        cmd: r#"true; echo $?; false; echo $?"#,
        out: r#"0
1
"#,
        code: 0,
    },
    Case {
        name: r#"xargs_forms"#,
        files: &[],
        cmd: r#"echo a b c | xargs -n 1 echo x; printf '1\n2\n' | xargs -I {} echo 'n={}'; echo 'q w' | xargs"#,
        out: r#"x a
x b
x c
n=1
n=2
q w
"#,
        code: 0,
    },
    Case {
        name: r#"tee_a"#,
        files: &[],
        cmd: r#"echo hi | tee t.txt; echo ho | tee -a t.txt > /dev/null; cat t.txt"#,
        out: r#"hi
hi
ho
"#,
        code: 0,
    },
    Case {
        name: r#"tac_rev_nl"#,
        files: &[(
            r#"f"#,
            Some(
                r#"a
b
c
"#,
            ),
        )],
        cmd: r#"tac f; echo abc | rev; nl f"#,
        out: r#"c
b
a
cba
     1	a
     2	b
     3	c
"#,
        code: 0,
    },
    Case {
        name: r#"paste_cols"#,
        files: &[
            (
                r#"a"#,
                Some(
                    r#"1
2
"#,
                ),
            ),
            (
                r#"b"#,
                Some(
                    r#"x
y
"#,
                ),
            ),
        ],
        cmd: r#"paste a b; paste -sd, a"#,
        out: r#"1	x
2	y
1,2
"#,
        code: 0,
    },
    Case {
        name: r#"expr_ops"#,
        files: &[],
        cmd: r#"expr 2 + 3; expr 10 / 3; expr length hello; expr 3 \> 2"#,
        out: r#"5
3
5
1
"#,
        code: 0,
    },
    Case {
        name: r#"jq_select"#,
        files: &[(
            r#"f.json"#,
            Some(
                r#"{"items": [{"name": "a", "n": 1}, {"name": "b", "n": 2}, {"name": "c", "n": 3}], "meta": {"count": 3, "tags": ["x", "y"]}}
"#,
            ),
        )],
        cmd: r#"jq '.items[] | select(.n > 1) | .name' f.json"#,
        out: r#""b"
"c"
"#,
        code: 0,
    },
    Case {
        name: r#"jq_raw_compact"#,
        files: &[(
            r#"f.json"#,
            Some(
                r#"{"items": [{"name": "a", "n": 1}, {"name": "b", "n": 2}, {"name": "c", "n": 3}], "meta": {"count": 3, "tags": ["x", "y"]}}
"#,
            ),
        )],
        cmd: r#"jq -r '.items[].name' f.json; jq -c '.meta' f.json; jq '.meta.count' f.json"#,
        out: r#"a
b
c
{"count":3,"tags":["x","y"]}
3
"#,
        code: 0,
    },
    Case {
        name: r#"jq_pretty"#,
        files: &[(
            r#"f.json"#,
            Some(
                r#"{"items": [{"name": "a", "n": 1}, {"name": "b", "n": 2}, {"name": "c", "n": 3}], "meta": {"count": 3, "tags": ["x", "y"]}}
"#,
            ),
        )],
        cmd: r#"jq '.meta' f.json; jq -n '[]'"#,
        out: r#"{
  "count": 3,
  "tags": [
    "x",
    "y"
  ]
}
[]
"#,
        code: 0,
    },
    Case {
        name: r#"jq_stdin_arg"#,
        files: &[],
        cmd: r#"echo '{"a":1}' | jq --arg v hi '.b = $v'"#,
        out: r#"{
  "a": 1,
  "b": "hi"
}
"#,
        code: 0,
    },
    Case {
        name: r#"jq_map_keys"#,
        files: &[(
            r#"f.json"#,
            Some(
                r#"{"items": [{"name": "a", "n": 1}, {"name": "b", "n": 2}, {"name": "c", "n": 3}], "meta": {"count": 3, "tags": ["x", "y"]}}
"#,
            ),
        )],
        cmd: r#"jq -c '[.items[] | .n * 2]' f.json; jq -r '.meta | keys[]' f.json; jq '.items | length' f.json"#,
        out: r#"[2,4,6]
count
tags
3
"#,
        code: 0,
    },
    Case {
        name: r#"jq_slurp"#,
        files: &[],
        cmd: r#"printf '1\n2\n3\n' | jq -s 'add'"#,
        out: r#"6
"#,
        code: 0,
    },
    Case {
        name: r#"file_detect"#,
        files: &[
            (
                r#"t.txt"#,
                Some(
                    r#"hello
"#,
                ),
            ),
            (r#"e"#, Some(r#""#)),
            (r#"d/"#, None),
            (
                r#"j.json"#,
                Some(
                    r#"{"a": 1}
"#,
                ),
            ),
        ],
        cmd: r#"file t.txt e d j.json"#,
        out: r#"t.txt:  ASCII text
e:      empty
d:      directory
j.json: JSON text data
"#,
        code: 0,
    },
    Case {
        name: r#"cd_dash"#,
        files: &[(r#"a/"#, None), (r#"b/"#, None)],
        cmd: r#"cd a; cd ../b; cd - | sed 's|.*/||'; pwd | sed 's|.*/||'"#,
        out: r#"a
b
"#,
        code: 0,
    },
    Case {
        name: r#"pipeline_status"#,
        files: &[],
        cmd: r#"false | true; echo $?; true | false; echo $?"#,
        out: r#"0
1
"#,
        code: 0,
    },
    Case {
        name: r#"stat_c"#,
        files: &[(r#"f"#, Some(r#"12345"#))],
        cmd: r#"stat -c '%s %n' f"#,
        out: r#"5 f
"#,
        code: 0,
    },
    Case {
        name: r#"b2_ls_file_and_dir"#,
        files: &[(r#"d/x"#, Some(r#""#)), (r#"f"#, Some(r#""#))],
        cmd: r#"ls d/ f; ls d/x"#,
        out: r#"f

d/:
x
d/x
"#,
        code: 0,
    },
    Case {
        name: r#"b2_pwd_var"#,
        files: &[(r#"s/"#, None)],
        cmd: r#"cd s; echo $PWD | sed 's|.*/||'; echo $OLDPWD | grep -c /"#,
        out: r#"s
1
"#,
        code: 0,
    },
    Case {
        name: r#"b2_grep_c_multi"#,
        files: &[
            (
                r#"a"#,
                Some(
                    r#"x
x
"#,
                ),
            ),
            (
                r#"b"#,
                Some(
                    r#"y
"#,
                ),
            ),
        ],
        cmd: r#"grep -c x a b"#,
        out: r#"a:2
b:0
"#,
        code: 0,
    },
    Case {
        name: r#"b2_head_neg"#,
        files: &[(
            r#"f"#,
            Some(
                r#"1
2
3
4
5
"#,
            ),
        )],
        cmd: r#"head -n -2 f; tail -c 4 f"#,
        out: r#"1
2
3
4
5
"#,
        code: 0,
    },
    Case {
        name: r#"b2_sort_k_space"#,
        files: &[(
            r#"f"#,
            Some(
                r#"b 2
a 3
c 1
"#,
            ),
        )],
        cmd: r#"sort -k2 f; sort -t' ' -k2,2 -r f"#,
        out: r#"c 1
b 2
a 3
a 3
b 2
c 1
"#,
        code: 0,
    },
    Case {
        name: r#"b2_awk_misc"#,
        files: &[(
            r#"f"#,
            Some(
                r#"root:x:0:0
user:x:1000:1000
"#,
            ),
        )],
        cmd: r#"awk -F: '{print $1}' f; awk 'END{print NR}' f; awk -F: '{print $NF}' f; awk -F: '$3 >= 1000' f"#,
        out: r#"root
user
2
0
1000
user:x:1000:1000
"#,
        code: 0,
    },
    Case {
        name: r#"b2_awk_printf_s"#,
        files: &[],
        cmd: r#"awk 'BEGIN{printf "%5s|%-5s|%.2s|%c\n", "ab", "cd", "xyz", 65}'"#,
        out: r#"   ab|cd   |xy|A
"#,
        code: 0,
    },
    Case {
        name: r#"b2_sed_more"#,
        files: &[(
            r#"f"#,
            Some(
                r#"a  

b1 22
c
"#,
            ),
        )],
        cmd: r#"sed '/^$/d' f; sed 's/[0-9]\+/N/g' f; sed 's/\s\+$//' f | cat -A; sed -n '1~2p' f"#,
        out: r#"a  
b1 22
c
a  

bN N
c
a$
$
b1 22$
c$
a  
b1 22
"#,
        code: 0,
    },
    Case {
        name: r#"b2_cut_tab"#,
        files: &[(
            r#"f"#,
            Some(
                r#"a	b	c
d	e	f
"#,
            ),
        )],
        cmd: r#"cut -f2 f; cut -f1,3 f; echo 'x y z' | cut -d' ' -f2-"#,
        out: r#"b
e
a	c
d	f
y z
"#,
        code: 0,
    },
    Case {
        name: r#"b2_wc_glob"#,
        files: &[
            (
                r#"a.txt"#,
                Some(
                    r#"1
"#,
                ),
            ),
            (
                r#"b.txt"#,
                Some(
                    r#"1
2
"#,
                ),
            ),
        ],
        cmd: r#"wc -l *.txt; echo hello | wc -c"#,
        out: r#"1 a.txt
2 b.txt
3 total
6
"#,
        code: 0,
    },
    Case {
        name: r#"b2_tr_cd"#,
        files: &[],
        cmd: r#"echo 'a-b_c!1' | tr -cd '[:alnum:]'; echo; echo 'hello' | tr 'a-y' 'b-z'"#,
        out: r#"abc1
ifmmp
"#,
        code: 0,
    },
    Case {
        name: r#"b2_find_print0_xargs0"#,
        files: &[
            (
                r#"a b.txt"#,
                Some(
                    r#"x
"#,
                ),
            ),
            (
                r#"c.txt"#,
                Some(
                    r#"y
"#,
                ),
            ),
        ],
        cmd: r#"find . -name '*.txt' -print0 | xargs -0 cat | sort"#,
        out: r#"x
y
"#,
        code: 0,
    },
    Case {
        name: r#"b2_for_subst"#,
        files: &[(r#"x1"#, Some(r#""#)), (r#"x2"#, Some(r#""#))],
        cmd: r#"for f in $(ls); do echo "<$f>"; done"#,
        out: r#"<x1>
<x2>
"#,
        code: 0,
    },
    Case {
        name: r#"b2_arith_incr"#,
        files: &[],
        cmd: r#"i=0; echo $((i++)) $i $((++i)) $((i+=5)) $((i > 3 ? 1 : 0))"#,
        out: r#"0 1 2 7 1
"#,
        code: 0,
    },
    Case {
        name: r#"b2_printf_var"#,
        files: &[],
        cmd: r#"v='a b'; printf '%s\n' "$v" $v"#,
        out: r#"a b
a
b
"#,
        code: 0,
    },
    Case {
        name: r#"b2_set_e"#,
        files: &[],
        cmd: r#"set -euo pipefail; echo ok"#,
        out: r#"ok
"#,
        code: 0,
    },
    Case {
        name: r#"b2_nested_loops"#,
        files: &[],
        cmd: r#"for i in 1 2; do for j in a b; do echo $i$j; done; done | paste -sd' '"#,
        out: r#"1a 1b 2a 2b
"#,
        code: 0,
    },
    Case {
        name: r#"b2_until"#,
        files: &[],
        cmd: r#"n=3; until [ $n -eq 0 ]; do echo $n; n=$((n-1)); done"#,
        out: r#"3
2
1
"#,
        code: 0,
    },
    Case {
        name: r#"b2_cat_heredoc_file"#,
        files: &[],
        cmd: r#"cat > s.py << 'EOF'
import sys
print(sys.argv)
EOF
wc -l s.py; cat s.py"#,
        out: r#"2 s.py
import sys
print(sys.argv)
"#,
        code: 0,
    },
    Case {
        name: r#"b2_redirect_order"#,
        files: &[],
        cmd: r#"ls nope > o.txt 2>&1; cat o.txt; ls nope 2>&1 >/dev/null | wc -l"#,
        out: r#"ls: cannot access 'nope': No such file or directory
1
"#,
        code: 0,
    },
    Case {
        name: r#"b2_append_loop"#,
        files: &[],
        cmd: r#"for i in 1 2 3; do echo $i >> log; done; cat log"#,
        out: r#"1
2
3
"#,
        code: 0,
    },
    Case {
        name: r#"b2_if_grep_q"#,
        files: &[(
            r#"f"#,
            Some(
                r#"needle
"#,
            ),
        )],
        cmd: r#"if grep -q needle f; then echo found; else echo no; fi"#,
        out: r#"found
"#,
        code: 0,
    },
    Case {
        name: r#"b2_test_numeric_str"#,
        files: &[],
        cmd: r#"[ 10 -gt 9 ] && echo num; [ 10 \> 9 ] || echo str"#,
        out: r#"num
str
"#,
        code: 0,
    },
    Case {
        name: r#"b2_double_bracket_like"#,
        files: &[],
        cmd: r#"x=5; if [ "$x" = 5 ] && [ -n "$x" ]; then echo both; fi"#,
        out: r#"both
"#,
        code: 0,
    },
    Case {
        name: r#"b2_dollar_at"#,
        files: &[],
        cmd: r#"f() { for a in "$@"; do echo "[$a]"; done; echo $#; }; f 'a b' c"#,
        out: r#"[a b]
[c]
2
"#,
        code: 0,
    },
    Case {
        name: r#"b2_local_shift"#,
        files: &[],
        cmd: r#"f() { local x=$1; shift; echo $x $@; }; f 1 2 3"#,
        out: r#"1 2 3
"#,
        code: 0,
    },
    Case {
        name: r#"b2_uniq_c_sort"#,
        files: &[(
            r#"f"#,
            Some(
                r#"b
a
b
b
"#,
            ),
        )],
        cmd: r#"sort f | uniq -c | sort -nr | head -1"#,
        out: r#"      3 b
"#,
        code: 0,
    },
    Case {
        name: r#"b2_seq_sum"#,
        files: &[],
        cmd: r#"seq 1 100 | awk '{s+=$1} END {print s}'"#,
        out: r#"5050
"#,
        code: 0,
    },
    Case {
        name: r#"b2_sort_multi_key"#,
        files: &[(
            r#"f"#,
            Some(
                r#"x,2,b
y,1,a
z,2,a
"#,
            ),
        )],
        cmd: r#"sort -t, -k2,2n -k3,3 f"#,
        out: r#"y,1,a
z,2,a
x,2,b
"#,
        code: 0,
    },
    Case {
        name: r#"b2_grep_ere_class"#,
        files: &[(
            r#"f"#,
            Some(
                r#"abc123
xyz
42
"#,
            ),
        )],
        cmd: r#"grep -E '^[0-9]+$' f; grep -E '[[:digit:]]{3}' f; grep -c '[a-z]' f"#,
        out: r#"42
abc123
2
"#,
        code: 0,
    },
    Case {
        name: r#"b2_sed_amp_escape"#,
        files: &[],
        cmd: r#"echo 'a.b' | sed 's/\./[&]/'; echo 'path/to' | sed 's#/#\\#g'"#,
        out: r#"a[.]b
path\to
"#,
        code: 0,
    },
    Case {
        name: r#"b2_mv_rename_dir"#,
        files: &[(
            r#"d1/f"#,
            Some(
                r#"1
"#,
            ),
        )],
        cmd: r#"mv d1 d2; ls; cat d2/f"#,
        out: r#"d2
1
"#,
        code: 0,
    },
    Case {
        name: r#"b2_cp_into_existing_dir_r"#,
        files: &[
            (
                r#"s/f"#,
                Some(
                    r#"1
"#,
                ),
            ),
            (r#"t/"#, None),
        ],
        cmd: r#"cp -r s t; find t | sort"#,
        out: r#"t
t/s
t/s/f
"#,
        code: 0,
    },
    Case {
        name: r#"b2_rm_glob"#,
        files: &[(r#"a.log"#, Some(r#""#)), (r#"b.log"#, Some(r#""#)), (r#"c.txt"#, Some(r#""#))],
        cmd: r#"rm *.log; ls"#,
        out: r#"c.txt
"#,
        code: 0,
    },
    Case {
        name: r#"b2_echo_special"#,
        files: &[],
        cmd: r#"echo "tab:\t" 'nl:\n'; echo -e 'x\\y'; echo -- -n"#,
        out: r#"tab:\t nl:\n
x\y
-- -n
"#,
        code: 0,
    },
    Case {
        name: r#"b2_brace_mkdir"#,
        files: &[],
        cmd: r#"mkdir -p proj/{src,tests}/pkg; find proj -type d | sort"#,
        out: r#"proj
proj/src
proj/src/pkg
proj/tests
proj/tests/pkg
"#,
        code: 0,
    },
    Case {
        name: r#"b2_var_in_single"#,
        files: &[],
        cmd: r#"X=1; echo '$X' "$X" "'$X'""#,
        out: r#"$X 1 '1'
"#,
        code: 0,
    },
    Case {
        name: r#"b2_semicolon_after_brace"#,
        files: &[],
        cmd: r#"{ echo a; } ; echo b"#,
        out: r#"a
b
"#,
        code: 0,
    },
    Case {
        name: r#"b2_pipe_exit_left"#,
        files: &[],
        cmd: r#"grep x nofile 2>/dev/null | wc -l; echo $?"#,
        out: r#"0
0
"#,
        code: 0,
    },
    Case {
        name: r#"b2_jq_more"#,
        files: &[(r#"f.json"#, Some(r#"[{"a":1,"b":"x"},{"a":2,"b":"y"}]"#))],
        cmd: r#"jq 'map(.a) | add' f.json; jq -r '.[] | "\(.a):\(.b)"' f.json; jq '.[0]' f.json; jq -c 'sort_by(-.a)' f.json; jq 'length' f.json"#,
        out: r#"3
1:x
2:y
{
  "a": 1,
  "b": "x"
}
[{"a":2,"b":"y"},{"a":1,"b":"x"}]
2
"#,
        code: 0,
    },
    Case {
        name: r#"b2_jq_keys_to_entries"#,
        files: &[(r#"f.json"#, Some(r#"{"b":2,"a":1}"#))],
        cmd: r#"jq -c 'to_entries' f.json; jq -S . f.json; jq -c 'keys' f.json; jq '.c // "def"' f.json"#,
        out: r#"[{"key":"b","value":2},{"key":"a","value":1}]
{
  "a": 1,
  "b": 2
}
["a","b"]
"def"
"#,
        code: 0,
    },
    Case {
        name: r#"b2_diff_add_del"#,
        files: &[
            (
                r#"a"#,
                Some(
                    r#"1
2
3
4
"#,
                ),
            ),
            (
                r#"b"#,
                Some(
                    r#"0
1
3
4
5
"#,
                ),
            ),
        ],
        cmd: r#"diff a b"#,
        out: r#"0a1
> 0
2d2
< 2
4a5
> 5
"#,
        code: 1,
    },
    Case {
        name: r#"b2_diff_u_full"#,
        files: &[
            (
                r#"a"#,
                Some(
                    r#"x
y
"#,
                ),
            ),
            (
                r#"b"#,
                Some(
                    r#"x
z
"#,
                ),
            ),
        ],
        cmd: r#"diff -u a b | sed 1,2d"#,
        out: r#"@@ -1,2 +1,2 @@
 x
-y
+z
"#,
        code: 0,
    },
    Case {
        name: r#"b2_diff_nonl"#,
        files: &[
            (
                r#"a"#,
                Some(
                    r#"x
y"#,
                ),
            ),
            (
                r#"b"#,
                Some(
                    r#"x
z
"#,
                ),
            ),
        ],
        cmd: r#"diff a b"#,
        out: r#"2c2
< y
\ No newline at end of file
---
> z
"#,
        code: 1,
    },
    Case {
        name: r#"b2_tail_multi"#,
        files: &[
            (
                r#"a"#,
                Some(
                    r#"1
2
"#,
                ),
            ),
            (
                r#"b"#,
                Some(
                    r#"3
4
"#,
                ),
            ),
        ],
        cmd: r#"tail -n 1 a b"#,
        out: r#"==> a <==
2

==> b <==
4
"#,
        code: 0,
    },
    Case {
        name: r#"b2_cat_A"#,
        files: &[(
            r#"f"#,
            Some(
                r#"a	b
"#,
            ),
        )],
        cmd: r#"cat -A f 2>/dev/null || cat f"#,
        out: r#"a^Ib$
"#,
        code: 0,
    },
    Case {
        name: r#"b2_nl_printf_pad"#,
        files: &[],
        cmd: r#"printf '%03d\n' 7; printf '%+d %+d\n' 5 -5; printf '%5.1f%%\n' 12.345"#,
        out: r#"007
+5 -5
 12.3%
"#,
        code: 0,
    },
    Case {
        name: r#"b2_basename_multi"#,
        files: &[],
        cmd: r#"basename -a /x/y.c /z/w.c; basename -s .c /x/y.c"#,
        out: r#"y.c
w.c
y
"#,
        code: 0,
    },
    Case {
        name: r#"b2_head_c_tail_plus"#,
        files: &[(
            r#"f"#,
            Some(
                r#"abcdef
"#,
            ),
        )],
        cmd: r#"head -c 3 f; echo; tail -c +3 f"#,
        out: r#"abc
cdef
"#,
        code: 0,
    },
    Case {
        name: r#"b2_grep_n_stdin_label"#,
        files: &[],
        cmd: r#"printf 'a\nb\na\n' | grep -n a"#,
        out: r#"1:a
3:a
"#,
        code: 0,
    },
    Case {
        name: r#"b2_awk_regex_field"#,
        files: &[(
            r#"f"#,
            Some(
                r#"alice 30
bob 25
"#,
            ),
        )],
        cmd: r#"awk '$1 ~ /^a/ {print $2}' f; awk '$1 !~ /^a/' f"#,
        out: r#"30
bob 25
"#,
        code: 0,
    },
    Case {
        name: r#"b2_awk_getline_file"#,
        files: &[(
            r#"f"#,
            Some(
                r#"1
2
"#,
            ),
        )],
        cmd: r#"awk 'BEGIN { while ((getline line < "f") > 0) s += line; print s }'"#,
        out: r#"3
"#,
        code: 0,
    },
    Case {
        name: r#"b2_awk_printf_no_newline"#,
        files: &[(
            r#"f"#,
            Some(
                r#"a
b
"#,
            ),
        )],
        cmd: r#"awk '{printf "%s,", $1} END {print ""}' f"#,
        out: r#"a,b,
"#,
        code: 0,
    },
    Case {
        name: r#"b2_awk_uninit"#,
        files: &[],
        cmd: r#"awk 'BEGIN { print x+0, "[" x "]", length(x) }'"#,
        out: r#"0 [] 0
"#,
        code: 0,
    },
    Case {
        name: r#"b2_awk_substr_edge"#,
        files: &[],
        cmd: r#"awk 'BEGIN { s="hello"; print substr(s,2), substr(s,4,100), substr(s,2,3), substr(s,9) }'"#,
        out: r#"ello lo ell 
"#,
        code: 0,
    },
    Case {
        name: r#"b2_awk_int_div"#,
        files: &[],
        cmd: r#"awk 'BEGIN { print int(7/2), 7/2, int(-3.7), 2^3, 10%3 }'"#,
        out: r#"3 3.5 -3 8 1
"#,
        code: 0,
    },
    Case {
        name: r#"b2_awk_array_multi"#,
        files: &[],
        cmd: r#"awk 'BEGIN { a[1,2]=5; for (k in a) { split(k, p, SUBSEP); print p[1], p[2], a[k] } }'"#,
        out: r#"1 2 5
"#,
        code: 0,
    },
    Case {
        name: r#"b2_awk_print_redirect"#,
        files: &[],
        cmd: r#"awk 'BEGIN { print "x" > "o.txt"; print "y" > "o.txt" }'; cat o.txt"#,
        out: r#"x
y
"#,
        code: 0,
    },
    Case {
        name: r#"b2_awk_rs_para"#,
        files: &[(
            r#"f"#,
            Some(
                r#"a b
c

d e
"#,
            ),
        )],
        cmd: r#"awk 'BEGIN{RS=""} {print NR": "$1"-"$NF}' f"#,
        out: r#"1: a-c
2: d-e
"#,
        code: 0,
    },
    Case {
        name: r#"b2_xargs_I_multi"#,
        files: &[],
        cmd: r#"printf 'a\nb\n' | xargs -I % sh -c 'echo %; echo %%'"#,
        out: r#"a
aa
b
bb
"#,
        code: 0,
    },
    Case {
        name: r#"b2_grep_w_o_n"#,
        files: &[(
            r#"f"#,
            Some(
                r#"foo bar foo
foobar
"#,
            ),
        )],
        cmd: r#"grep -on 'foo' f; grep -wc foo f"#,
        out: r#"1:foo
1:foo
2:foo
1
"#,
        code: 0,
    },
    Case {
        name: r#"grep_lines_found_by_one_scan"#,
        files: &[(
            r#"f"#,
            Some(
                r#"alpha 1

beta 22
gamma 333

alpha 4444"#,
            ),
        )],
        cmd: r#"grep -n alpha f; grep -c '^$' f; grep -n '^$' f"#,
        out: r#"1:alpha 1
6:alpha 4444
2
2:
5:
"#,
        code: 0,
    },
    Case {
        name: r#"grep_byte_offsets"#,
        files: &[(
            r#"f"#,
            Some(
                r#"alpha 1

beta 22
gamma 333

alpha 4444"#,
            ),
        )],
        cmd: r#"grep -b a f; grep -ob 'a[0-9 ]' f"#,
        out: r#"0:alpha 1
9:beta 22
17:gamma 333
28:alpha 4444
4:a 
12:a 
21:a 
32:a 
"#,
        code: 0,
    },
    Case {
        name: r#"grep_max_count"#,
        files: &[(
            r#"f"#,
            Some(
                r#"alpha 1

beta 22
gamma 333

alpha 4444"#,
            ),
        )],
        cmd: r#"grep -m2 -n a f; grep -m1 -c a f"#,
        out: r#"1:alpha 1
3:beta 22
1
"#,
        code: 0,
    },
    Case {
        name: r#"grep_match_at_a_line_end_and_no_final_newline"#,
        files: &[(
            r#"f"#,
            Some(
                r#"alpha 1

beta 22
gamma 333

alpha 4444"#,
            ),
        )],
        cmd: r#"grep -n 'a\s' f; grep -n '[^a-z]$' f; grep -nx 'alpha 4444' f; grep -c '' f"#,
        out: r#"1:alpha 1
3:beta 22
4:gamma 333
6:alpha 4444
1:alpha 1
3:beta 22
4:gamma 333
6:alpha 4444
6:alpha 4444
6
"#,
        code: 0,
    },
    Case {
        name: r#"b2_test_z_unset"#,
        files: &[],
        cmd: r#"[ -z "$UNSET" ] && echo unset; [ -n "$HOME" ] && echo home"#,
        out: r#"unset
home
"#,
        code: 0,
    },
    Case {
        name: r#"b2_export_list"#,
        files: &[],
        cmd: r#"export A=1 B=2; env | grep -E '^(A|B)=' | sort"#,
        out: r#"A=1
B=2
"#,
        code: 0,
    },
    Case {
        name: r#"b2_printf_b_c"#,
        files: &[],
        cmd: r#"printf '%b\n' 'a\tb'; printf 'x%cy\n' z"#,
        out: r#"a	b
xzy
"#,
        code: 0,
    },
    Case {
        name: r#"b2_date_fmt2"#,
        files: &[],
        cmd: r#"date -d '2024-01-15 13:45:00' '+%H:%M %p %I %y %B %A %u %w %D %T %F'"#,
        out: r#"13:45 PM 01 24 January Monday 1 1 01/15/24 13:45:00 2024-01-15
"#,
        code: 0,
    },
    Case {
        name: r#"b2_seq_neg"#,
        files: &[],
        cmd: r#"seq -3 -1; seq 3 1; echo end"#,
        out: r#"-3
-2
-1
end
"#,
        code: 0,
    },
    Case {
        name: r#"b2_sort_numeric_mixed"#,
        files: &[(
            r#"f"#,
            Some(
                r#"10 x
9 y
-1 z
1.5 w
"#,
            ),
        )],
        cmd: r#"sort -n f; sort -g f"#,
        out: r#"-1 z
1.5 w
9 y
10 x
-1 z
1.5 w
9 y
10 x
"#,
        code: 0,
    },
    Case {
        name: r#"b2_uniq_i"#,
        files: &[(
            r#"f"#,
            Some(
                r#"a
A
b
"#,
            ),
        )],
        cmd: r#"uniq -i f; uniq -ci f"#,
        out: r#"a
b
      2 a
      1 b
"#,
        code: 0,
    },
    Case {
        name: r#"b2_cut_complement"#,
        files: &[(
            r#"f"#,
            Some(
                r#"a,b,c
"#,
            ),
        )],
        cmd: r#"cut -d, --complement -f2 f; cut -d, -f1,3 --output-delimiter=' ' f"#,
        out: r#"a,c
a c
"#,
        code: 0,
    },
    Case {
        name: r#"b2_find_maxdepth_name"#,
        files: &[(r#"a.txt"#, Some(r#""#)), (r#"s/b.txt"#, Some(r#""#))],
        cmd: r#"find . -maxdepth 1 -name '*.txt'; find s -name '*.txt' -type f"#,
        out: r#"./a.txt
s/b.txt
"#,
        code: 0,
    },
    Case {
        name: r#"b2_gzip_stdin"#,
        files: &[],
        cmd: r#"echo hi | gzip | gunzip; echo hi | gzip -c | zcat"#,
        out: r#"hi
hi
"#,
        code: 0,
    },
    Case {
        name: r#"b2_tar_list_verbose_count"#,
        files: &[(r#"d/a"#, Some(r#"x"#))],
        cmd: r#"tar czf t.tgz d; tar tzf t.tgz; tar xzf t.tgz --to-stdout d/a 2>/dev/null || tar xzOf t.tgz d/a"#,
        out: r#"d/
d/a
x"#,
        code: 0,
    },
    Case {
        name: r#"b2_string_ops"#,
        files: &[],
        cmd: r#"s='Hello World'; echo ${s,,} ${s:0:5} ${s: -5} ${#s}"#,
        out: r#"hello world Hello World 11
"#,
        code: 0,
    },
    Case {
        name: r#"b2_default_assign"#,
        files: &[],
        cmd: r#"echo ${V:=assigned}; echo $V; echo ${V:+alt} ${NO:+alt}x"#,
        out: r#"assigned
assigned
alt x
"#,
        code: 0,
    },
    Case {
        name: r#"b2_comment_in_middle"#,
        files: &[],
        cmd: r#"echo a#b # real comment"#,
        out: r#"a#b
"#,
        code: 0,
    },
    Case {
        name: r#"b2_escaped_newline"#,
        files: &[],
        cmd: r#"echo one \
two"#,
        out: r#"one two
"#,
        code: 0,
    },
    Case {
        name: r#"b2_multiple_redirs"#,
        files: &[],
        cmd: r#"echo x 1>a 2>b; cat a; wc -c < b"#,
        out: r#"x
0
"#,
        code: 0,
    },
    Case {
        name: r#"b2_cmd_subst_exit"#,
        files: &[],
        cmd: r#"x=$(false); echo $?; y=$(echo ok; exit 3); echo $? $y"#,
        out: r#"1
3 ok
"#,
        code: 0,
    },
    Case {
        name: r#"b2_quoted_glob_in_var"#,
        files: &[(r#"a.txt"#, Some(r#""#))],
        cmd: r#"p='*.txt'; echo $p; echo "$p""#,
        out: r#"a.txt
*.txt
"#,
        code: 0,
    },
    Case {
        name: r#"b2_ifs_split"#,
        files: &[],
        cmd: r#"x='a   b  c'; for w in $x; do echo "<$w>"; done"#,
        out: r#"<a>
<b>
<c>
"#,
        code: 0,
    },
    Case {
        name: r#"b2_empty_string_arg"#,
        files: &[],
        cmd: r#"f() { echo $#; }; f '' "" a"#,
        out: r#"3
"#,
        code: 0,
    },
];

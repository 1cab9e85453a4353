"""Turn the code of a solution cell into a stub: the signatures kept, the bodies gone.

For every top-level ``def`` (and every method of a top-level ``class``) the stub keeps the
decorators and the signature exactly as written, and the docstring if there is one; the body
becomes ``# your code here`` and ``raise NotImplementedError``. Imports are kept (a later cell
may use the names they bind); a top-level assignment ``name = ...`` becomes ``name = None``;
every other statement is dropped. Nothing else of the solution survives.
"""

from __future__ import annotations

import ast
import io
import tokenize

MARKER = "# your code here"


def to_python(source: str) -> str:
    """Cell source as plain Python: IPython magics (``%time``, ``!ls``) become calls."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return source
    return TransformerManager().transform_cell(source)


def _header(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> str:
    """The decorators and the signature of ``node``, as written, up to the colon."""
    first = min([d.lineno for d in node.decorator_list] + [node.lineno])
    text = "".join(lines[first - 1 :])
    keyword = "class" if isinstance(node, ast.ClassDef) else "def"
    depth, seen_keyword = 0, False
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.NAME and tok.string == keyword and depth == 0:
            seen_keyword = True
        elif tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        elif tok.type == tokenize.OP and tok.string == ":" and depth == 0 and seen_keyword:
            row, col = tok.end
            head = text.splitlines(keepends=True)[: row - 1]
            return "".join(head) + text.splitlines()[row - 1][:col]
    raise ValueError(f"no colon after the signature of {node.name!r}")  # pragma: no cover


def _indent(source: str, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> str:
    """The indentation of ``node``'s body (four spaces more than the def for one-liners)."""
    first = node.body[0]
    if first.lineno > node.lineno:
        line = source.splitlines()[first.lineno - 1]
        return line[: len(line) - len(line.lstrip())]
    return " " * (node.col_offset + 4)


def _docstring(source: str, node: ast.AST, indent: str) -> list[str]:
    if ast.get_docstring(node, clean=False) is None:
        return []
    segment = ast.get_source_segment(source, node.body[0])
    return [indent + segment] if segment else []


def _stub_def(source: str, lines: list[str], node: ast.AST) -> str:
    """The stub of one function or class (methods stubbed the same way)."""
    indent = _indent(source, node)
    out = [_header(lines, node), *_docstring(source, node, indent)]
    if isinstance(node, ast.ClassDef):
        methods = [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        if len(out) == 1 and not methods:
            out.append(f"{indent}pass")
        out += ["\n" + _stub_def(source, lines, m) for m in methods]  # a blank line before each
    else:
        out += [f"{indent}{MARKER}", f"{indent}raise NotImplementedError"]
    return "\n".join(out)


def _assigned_names(node: ast.Assign | ast.AnnAssign) -> list[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    names = []
    for target in targets:
        elements = target.elts if isinstance(target, ast.Tuple | ast.List) else [target]
        names += [e.id for e in elements if isinstance(e, ast.Name)]
    return names


def stub_source(source: str) -> str:
    """The stub of a solution cell's code (see the module docstring).

    Raises ``ValueError`` if the code is not valid Python, with the line of the error.
    """
    python = to_python(source)
    try:
        tree = ast.parse(python)
    except SyntaxError as exc:
        message = f"solution cell is not valid Python (line {exc.lineno}: {exc.msg})"
        raise ValueError(message) from None
    lines = python.splitlines(keepends=True)
    parts: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            parts.append(_stub_def(python, lines, node))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            parts.append(ast.get_source_segment(python, node) or ast.unparse(node))
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            parts += [f"{name} = None  {MARKER}" for name in _assigned_names(node)]
    if not any(MARKER in part for part in parts):
        parts.append(MARKER)
    return "\n\n".join(_group_imports(parts))


def _group_imports(parts: list[str]) -> list[str]:
    """Consecutive import lines and ``= None`` lines joined into one block each."""
    grouped: list[str] = []
    for part in parts:
        if grouped and "\n" not in part + grouped[-1] and grouped[-1] != MARKER:
            grouped[-1] += "\n" + part
        else:
            grouped.append(part)
    return grouped


def defined_names(source: str) -> list[str]:
    """Names of the top-level functions and classes that ``source`` defines."""
    tree = ast.parse(to_python(source))
    kinds = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    return [node.name for node in tree.body if isinstance(node, kinds)]

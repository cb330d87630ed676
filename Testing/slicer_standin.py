"""Test-only stand-ins for the parts of 3D Slicer that slicer-core (PyPI) does not have.

slicer-core gives the real MRML scene, nodes and module logics; the Slicer *application* is missing
(``slicer.app``, ``slicer.modules``, ``slicer.mrmlScene``). :func:`make_scene` builds a real scene with
trame-slicer's ``SlicerApp`` and registers the logics that product code reaches through ``slicer.modules``.
This file lives in Testing/ only; product code never imports it.
"""
from __future__ import annotations

import os

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

_APP = None


def make_scene(fresh: bool = True):
    """A real MRML scene (SlicerApp) set as ``slicer.mrmlScene``, with ``slicer.modules.<name>.logic()``: one
    application per process (:func:`CardioGenSlicerLib.standalone.standalone_slicer_app`), its scene cleared."""
    global _APP
    from CardioGenSlicerLib.standalone import standalone_slicer_app, use_scene

    if _APP is None:
        _APP = standalone_slicer_app()
    elif fresh:
        _APP.scene.Clear(0)
    use_scene(_APP)
    return _APP


# ---- GUI stand-ins for the panel tests (PySide6, offscreen) ---------------------------------------------------
_GUI = None


def install_gui_standins():
    """Provide ``qt``, ``ctk``, ``slicer.ScriptedLoadableModule``, ``slicer.parameterNodeWrapper``,
    ``slicer.util.loadUI`` and ``slicer.util.childWidgetVariables`` on top of the real slicer-core package.

    Returns the QApplication. Everything is thin: real Qt widgets (PySide6) with Slicer's class names.
    """
    global _GUI
    if _GUI is not None:
        return _GUI
    import inspect
    import sys
    import types

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtCore, QtGui, QtWidgets
    from PySide6.QtUiTools import QUiLoader

    import slicer

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])

    qt = types.ModuleType("qt")
    strict = {}  # Qt class name -> its PythonQt-like subclass (what QUiLoader builds too)
    for mod in (QtCore, QtGui, QtWidgets):
        for name in dir(mod):
            if name.startswith("Q") or name == "Qt":
                setattr(qt, name, getattr(mod, name))
    for name in dir(QtWidgets):
        cls = getattr(QtWidgets, name)
        if isinstance(cls, type) and issubclass(cls, QtWidgets.QWidget):
            strict[name] = pythonqt_class(cls)
            setattr(qt, name, strict[name])
    qt.QTimer = pythonqt_class(QtCore.QTimer)
    qt.Qt = pythonqt_enums(QtCore.Qt, "qt.Qt")
    sys.modules["qt"] = qt

    class ctkCollapsibleButton(qt.QGroupBox):
        def setText(self, text):
            self.setTitle(text)

        @property
        def text(self):  # a Qt property in CTK: an attribute under PythonQt
            return QtWidgets.QGroupBox.title(self)

    class ctkPathLineEdit(qt.QLineEdit):
        @property
        def currentPath(self):
            return QtWidgets.QLineEdit.text(self)

        def setCurrentPath(self, path):
            self.setText(str(path))

    class ctkSliderWidget(qt.QWidget):
        """CTK's ctkSliderWidget as PythonQt shows it: a QWidget (not a spin box) holding a slider and a spin box, whose
        Qt properties (value, minimum, maximum, singleStep, pageStep, decimals, prefix, suffix, tracking, ...) are
        attributes (``slider.value()`` raises TypeError) and whose methods are CTK's only (setRange, reset, setValue,
        hasTracking, spinBox(), slider(); no QDoubleSpinBox API). The value is kept within [minimum, maximum] and
        rounded to ``decimals`` like ctkDoubleSpinBox. With ``tracking`` off, ``valueIsChanging(double)`` fires while
        the user drags and ``valueChanged(double)`` once on release: tests call :meth:`drag` (button still down) and
        :meth:`release`, or ``setValue`` (a typed value / a programmatic change)."""

        valueChanged = QtCore.Signal(float)
        valueIsChanging = QtCore.Signal(float)

        def __init__(self, parent=None):
            super().__init__(parent)
            layout = QtWidgets.QHBoxLayout(self)
            layout.setContentsMargins(0, 0, 0, 0)
            self._slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal, self)
            self._slider.setRange(0, 1000)
            self._spin = QtWidgets.QDoubleSpinBox(self)
            layout.addWidget(self._slider, 1)
            layout.addWidget(self._spin)
            self._min, self._max, self._value, self._decimals = 0.0, 99.0, 0.0, 2
            self._single, self._page, self._tick = 1.0, 10.0, 0.0
            self._tracking, self._dragging = True, None
            self._sync()

        def _sync(self):
            for w in (self._spin, self._slider):
                w.blockSignals(True)
            self._spin.setDecimals(self._decimals)
            self._spin.setRange(self._min, self._max)
            self._spin.setSingleStep(self._single)
            self._spin.setValue(self._value)
            span = self._max - self._min
            self._slider.setValue(int(round(1000 * (self._value - self._min) / span)) if span > 0 else 0)
            for w in (self._spin, self._slider):
                w.blockSignals(False)

        def _set_value(self, value, emit=True):
            value = round(min(max(float(value), self._min), self._max), self._decimals)
            changed = value != self._value
            self._value = value
            self._sync()
            if changed and emit:
                self.valueChanged.emit(value)

        # Qt properties (attributes under PythonQt; QUiLoader sets them through the meta-object)
        def _get(name):
            return lambda self: getattr(self, name)

        def _setter(name, cast):
            def set_(self, value):
                setattr(self, name, cast(value))
                if self._max < self._min:
                    self._max = self._min if name == "_min" else self._max
                    self._min = self._max if name == "_max" else self._min
                self._set_value(self._value)
            return set_

        value = QtCore.Property(float, _get("_value"), lambda self, v: self._set_value(v))
        minimum = QtCore.Property(float, _get("_min"), _setter("_min", float))
        maximum = QtCore.Property(float, _get("_max"), _setter("_max", float))
        decimals = QtCore.Property(int, _get("_decimals"), _setter("_decimals", int))
        singleStep = QtCore.Property(float, _get("_single"), _setter("_single", float))
        pageStep = QtCore.Property(float, _get("_page"), _setter("_page", float))
        tickInterval = QtCore.Property(float, _get("_tick"), _setter("_tick", float))
        prefix = QtCore.Property(str, lambda self: QtWidgets.QDoubleSpinBox.prefix(self._spin),
                                 lambda self, v: self._spin.setPrefix(str(v)))
        suffix = QtCore.Property(str, lambda self: QtWidgets.QDoubleSpinBox.suffix(self._spin),
                                 lambda self, v: self._spin.setSuffix(str(v)))
        # bool properties are plain Python properties: a bool returned through QtCore.Property upsets shiboken's
        # reference counts (the crash at exit, "deallocating True or False"); no .ui file sets them
        tracking = property(_get("_tracking"), _setter("_tracking", bool))
        spinBoxVisible = property(lambda self: not self._spin.isHidden(), lambda self, v: self._spin.setVisible(bool(v)))
        del _get, _setter

        # CTK's methods and slots
        def setValue(self, value):
            self._set_value(value)

        def setMinimum(self, value):
            self.minimum = value

        def setMaximum(self, value):
            self.maximum = value

        def setRange(self, low, high):
            self._min, self._max = float(low), max(float(low), float(high))
            self._set_value(self._value)

        def setSingleStep(self, step):
            self.singleStep = step

        def setPageStep(self, step):
            self.pageStep = step

        def setDecimals(self, decimals):
            self.decimals = decimals

        def setPrefix(self, text):
            self.prefix = text

        def setSuffix(self, text):
            self.suffix = text

        def setTickInterval(self, interval):
            self.tickInterval = interval

        def setTracking(self, on):
            self.tracking = on

        def hasTracking(self):
            return self._tracking

        def isSpinBoxVisible(self):
            return self.spinBoxVisible

        def setSpinBoxVisible(self, on):
            self.spinBoxVisible = on

        def reset(self):
            self._set_value(0.0)

        def spinBox(self):
            return self._spin

        def slider(self):
            return self._slider

        # what a test does with the mouse
        def drag(self, value):
            """The handle moves to ``value`` while the mouse button is still down (clamped to the range)."""
            value = round(min(max(float(value), self._min), self._max), self._decimals)
            self._dragging = value
            self.valueIsChanging.emit(value)
            if self._tracking:
                self._set_value(value)

        def release(self):
            """The mouse button goes up: the value becomes the dragged position (``valueChanged`` if it moved)."""
            if self._dragging is not None:
                value, self._dragging = self._dragging, None
                self._set_value(value)

    class qMRMLNodeComboBox(qt.QComboBox):
        """Lists scene nodes of the classes in its "nodeTypes" property; currentNode()/setCurrentNode()."""

        currentNodeChanged = QtCore.Signal(object)

        def __init__(self, parent=None):
            super().__init__(parent)
            self._scene = None
            self._nodes = []
            self.currentIndexChanged.connect(lambda *_: self.currentNodeChanged.emit(self.currentNode()))

        def setMRMLScene(self, scene):
            self._scene = scene
            self.refresh()

        def refresh(self):
            current = self.currentNode()
            types = list(self.property("nodeTypes") or [])
            self._nodes = [None] if self.property("noneEnabled") else []
            if self._scene is not None:
                for cls in types:
                    nodes = self._scene.GetNodesByClass(cls)
                    for i in range(nodes.GetNumberOfItems()):
                        node = nodes.GetItemAsObject(i)
                        if node.GetHideFromEditors() or node in self._nodes:
                            continue
                        self._nodes.append(node)
            self.blockSignals(True)
            self.clear()
            self.addItems(["None" if n is None else n.GetName() for n in self._nodes])
            self.blockSignals(False)
            if current in self._nodes:
                self.setCurrentIndex(self._nodes.index(current))

        def currentNode(self):
            i = QtWidgets.QComboBox.currentIndex(self)
            return self._nodes[i] if 0 <= i < len(self._nodes) else None

        def setCurrentNode(self, node):
            self.refresh()
            if node in self._nodes:
                self.setCurrentIndex(self._nodes.index(node))

    class qMRMLWidget(qt.QWidget):
        def setMRMLScene(self, scene):
            self._scene = scene
            for combo in self.findChildren(qMRMLNodeComboBox):  # the .ui's mrmlSceneChanged connections
                combo.setMRMLScene(scene)

    custom = (ctkCollapsibleButton, ctkPathLineEdit, ctkSliderWidget, qMRMLWidget, qMRMLNodeComboBox)
    custom_by_name = {cls.__name__: cls for cls in custom}
    ctk = types.ModuleType("ctk")
    for cls in custom[:3]:
        setattr(ctk, cls.__name__, cls)
    sys.modules["ctk"] = ctk

    class PythonQtUiLoader(QUiLoader):
        """Builds every widget of a .ui as its PythonQt-like class (Qt properties read as attributes)."""

        def createWidget(self, className, parent=None, name=""):
            cls = custom_by_name.get(className) or strict.get(className)
            if cls is None:
                return super().createWidget(className, parent, name)
            widget = cls(parent)
            widget.setObjectName(name)
            return widget

    def loadUI(path):
        loader = PythonQtUiLoader()
        for cls in custom:
            loader.registerCustomWidget(cls)
        ui_file = QtCore.QFile(str(path))
        if not ui_file.open(QtCore.QFile.ReadOnly):
            raise RuntimeError(f"cannot open {path}")
        try:
            widget = loader.load(ui_file)
        finally:
            ui_file.close()
        if widget is None:
            raise RuntimeError(f"cannot load {path}: {loader.errorString()}")
        for button in widget.findChildren(ctkCollapsibleButton):  # the .ui sets "text", a QGroupBox shows "title"
            if button.property("text"):
                button.setTitle(str(button.property("text")))
        return widget

    def childWidgetVariables(widget):
        ns = types.SimpleNamespace()
        for child in widget.findChildren(QtCore.QObject):
            name = QtCore.QObject.objectName(child)
            if name:
                setattr(ns, name, child)
        return ns

    def never(what):
        def refuse(*_args, **_kwargs):
            raise RuntimeError(f"slicer.util.{what} in a test: inject a DependencyInstaller with fakes instead")
        return refuse

    slicer.qMRMLNodeComboBox = qMRMLNodeComboBox
    slicer.util.mainWindow = lambda: None  # no application window: dialogs are top-level
    slicer.util.pip_install = never("pip_install")  # tests never install into the test environment
    slicer.util.confirmOkCancelDisplay = never("confirmOkCancelDisplay")  # nor wait for a click on a modal dialog
    slicer.util.loadUI = loadUI
    slicer.util.childWidgetVariables = childWidgetVariables

    slm = types.ModuleType("slicer.ScriptedLoadableModule")

    class ScriptedLoadableModule:
        def __init__(self, parent):
            self.parent = parent

    class ScriptedLoadableModuleWidget:
        """As Slicer's: without a parent the constructor makes a qMRMLWidget and calls ``setup()`` itself (before a
        subclass's ``__init__`` goes on); with a parent the application calls ``setup()`` after construction."""

        def __init__(self, parent=None):
            self.moduleName = type(self).__name__[: -len("Widget")]
            self.developerMode = False
            if not parent:
                self.parent = qMRMLWidget()
                self.parent.setLayout(QtWidgets.QVBoxLayout())
                self.parent.setMRMLScene(slicer.mrmlScene)
            else:
                self.parent = parent
            self.layout = self.parent.layout()
            if not parent:
                self.setup()
                self.parent.show()

        def setup(self):
            if self.layout is None:  # the application's module panel always has one
                self.layout = QtWidgets.QVBoxLayout(self.parent)

        def resourcePath(self, filename):
            module_dir = os.path.dirname(inspect.getfile(type(self)))
            return os.path.join(module_dir, "Resources", filename)

    class ScriptedLoadableModuleLogic:
        def __init__(self, parent=None):
            self.moduleName = type(self).__name__[: -len("Logic")]

        def getParameterNode(self):
            scene = slicer.mrmlScene
            node = scene.GetSingletonNode(self.moduleName, "vtkMRMLScriptedModuleNode")
            if node is None:
                node = slicer.vtkMRMLScriptedModuleNode()
                node.SetSingletonTag(self.moduleName)
                node.SetName(self.moduleName)
                node = scene.AddNode(node)
            return node

    import unittest

    class ScriptedLoadableModuleTest(unittest.TestCase):
        """Like Slicer's: a unittest.TestCase (all assert* methods) with delayDisplay; runTest is the module's."""

        def __init__(self, methodName="runTest"):
            super().__init__(methodName)

        def delayDisplay(self, message, msec=0):
            pass

    for cls in (ScriptedLoadableModule, ScriptedLoadableModuleWidget, ScriptedLoadableModuleLogic,
                ScriptedLoadableModuleTest):
        setattr(slm, cls.__name__, cls)
    sys.modules["slicer.ScriptedLoadableModule"] = slm
    slicer.ScriptedLoadableModule = slm

    pnw = types.ModuleType("slicer.parameterNodeWrapper")

    def parameterNodeWrapper(cls):
        """Typed attributes with defaults, mirrored into the scripted module node as strings."""
        annotations = dict(getattr(cls, "__annotations__", {}))

        def __init__(self, node):
            object.__setattr__(self, "parameterNode", node)
            for name in annotations:
                object.__setattr__(self, name, getattr(cls, name))

        def __setattr__(self, name, value):
            object.__setattr__(self, name, value)
            if name in annotations and self.parameterNode is not None:
                self.parameterNode.SetParameter(name, str(value))

        return type(cls.__name__, (), {"__init__": __init__, "__setattr__": __setattr__,
                                       "__annotations__": annotations,
                                       **{k: getattr(cls, k) for k in annotations if hasattr(cls, k)}})

    pnw.parameterNodeWrapper = parameterNodeWrapper
    sys.modules["slicer.parameterNodeWrapper"] = pnw
    slicer.parameterNodeWrapper = pnw
    _GUI = app
    return app


# ---- PythonQt semantics ----------------------------------------------------------------------------------------
#: Properties whose name is also a static method PythonQt keeps callable on the class (qt.QTimer.singleShot(ms, fn)).
_STATIC_TOO = frozenset({"singleShot"})


def pythonqt_class(cls):
    """A subclass of the PySide6 class ``cls`` that reads Qt properties the way Slicer's PythonQt does.

    Every Qt property is an attribute (``label.text``, ``box.checked``, ``spin.value``) and assigning it sets the
    property; a getter that shares the property's name is gone, so ``label.text()`` fails with
    "'str' object is not callable" as it does in Slicer. Other methods (``isChecked()``, ``setText()``) stay.
    Qt's C++ side (QUiLoader, signals) is unaffected: it never looks at Python attributes.
    """
    from PySide6 import QtCore

    namespace = {"__module__": "qt", "__doc__": f"{cls.__name__} with PythonQt property semantics"}
    meta = cls.staticMetaObject
    for i in range(meta.propertyCount()):
        name = meta.property(i).name()
        existing = getattr(cls, name, None)
        if name in _STATIC_TOO:
            continue
        if existing is not None and (not callable(existing) or isinstance(existing, QtCore.Signal)):
            continue  # already an attribute (a Python property of a stand-in) or a signal

        # read through the C++ getter (checked -> isChecked, tracking -> hasTracking): QObject.property() of a bool
        # property upsets shiboken's reference counts (a crash at exit: "deallocating True or False")
        cap = name[:1].upper() + name[1:]
        method = existing or getattr(cls, "is" + cap, None) or getattr(cls, "has" + cap, None)

        def getter(self, _name=name, _method=method):
            return _method(self) if _method is not None else QtCore.QObject.property(self, _name)

        def setter(self, value, _name=name):
            QtCore.QObject.setProperty(self, _name, value)

        namespace[name] = property(getter, setter, doc=f"Qt property {name!r} (PythonQt: an attribute)")
    return type(cls.__name__, (cls,), namespace)


class _PythonQtEnums:
    """A Qt namespace as PythonQt shows it: enum values flat on the namespace (``qt.Qt.AlignCenter``); PySide6's
    scoped spelling (``qt.Qt.AlignmentFlag.AlignCenter``) is not there."""

    def __init__(self, namespace, label):
        import enum

        scoped = set()
        for attr in dir(namespace):
            if attr.startswith("_"):
                continue
            value = getattr(namespace, attr)
            if isinstance(value, type) and issubclass(value, enum.Enum):
                scoped.add(attr)
                for member_name, member in value.__members__.items():  # aliases and combined flags too
                    self.__dict__.setdefault(member_name, member)
            else:
                self.__dict__.setdefault(attr, value)
        for attr in scoped:
            self.__dict__.pop(attr, None)
        self.__dict__["_scoped"] = frozenset(scoped)
        self.__dict__["_label"] = label

    def __getattr__(self, name):
        if name in self.__dict__.get("_scoped", ()):
            raise AttributeError(f"{self._label}.{name}: Slicer's PythonQt has no scoped enums; "
                                 f"use the value directly ({self._label}.<Value>)")
        raise AttributeError(f"{self._label} has no attribute {name!r}")


def pythonqt_enums(namespace, label):
    return _PythonQtEnums(namespace, label)
